"""Per-protocol parsers: capture files, link/IP/UDP/TCP, SIP, SDP, HEP, WebSocket (one module each, STYLE.md G4)."""
