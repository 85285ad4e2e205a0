"""The sipdiag test lab: real SIP peers (sipp) across a real NAT router in network namespaces,
captured with tcpdump into the project's own fixtures (``samples/pcaps/``). See ``lab/run.py``."""
