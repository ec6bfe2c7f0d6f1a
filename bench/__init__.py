"""The peerrooms performance benchmark: a load generator in its own processes, a light
Socket.IO client, and a bare python-socketio relay to compare against.

Run ``python -m bench --help``; bench/README.md explains each scenario.
"""
