"""One router per resource; :func:`perron.hub.app.create_app` mounts them all."""
