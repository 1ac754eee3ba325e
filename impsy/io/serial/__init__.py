"""Serial devices: one port reader shared by the CSV (``csv``) and MIDI (``midi``) adapters."""
