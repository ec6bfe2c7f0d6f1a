"""The browser client: serving the built `web/dist` bundle at `/`."""
