"""OSCQuery: impsy describes its OSC addresses, so a front end can build its own controls.

``[oscquery]`` serves the run's OSC namespace (every row of the command
table, ``/interface`` and every address impsy sends) as OSCQuery JSON over
HTTP, with current values and value updates over its WebSocket, following
Vidvox's OSCQuery proposal; optionally advertised over zeroconf.

- ``namespace``: the tree, built from the command table (pure data);
- ``values``: how to read the current value of the rows that have one;
- ``listen``: the WebSocket (LISTEN/IGNORE, updates, OSC packets in);
- ``server``: the HTTP server, its access rules and its config check;
- ``advertise``: the optional zeroconf advertisement.

See docs/oscquery.md.
"""
