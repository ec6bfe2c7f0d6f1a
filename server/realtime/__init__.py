"""The Socket.IO side: connections, socket rooms, emits and the control bus between processes."""
