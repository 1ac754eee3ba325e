"""The browser interface: an aiohttp app on impsy's own event loop.

``impsy run`` serves it beside the performance when the config has a
``[webui]`` section, so live data is read straight from the engine; ``impsy
webui`` serves the same app without a performance (files, config, training).
Everything the pages need ships in ``static/``: it works offline. The HTTP API
is described in ``API.md`` beside this file.
"""
