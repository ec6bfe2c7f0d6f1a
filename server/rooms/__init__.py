"""Rooms and messages: who may enter, the send pipeline, history, edits, reactions, typing."""
