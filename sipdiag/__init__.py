"""sipdiag: SIP/VoIP diagnostics from packet captures, as a command line and a Python library.

    import sipdiag
    analysis = sipdiag.analyze("call.pcap")
    print(analysis.capture.packets, analysis.sip.requests)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "analyze", "Analysis", "SipdiagError"]


def __getattr__(name: str):
    # Imported lazily so that `sipdiag --version` and `--help` stay fast and work without NumPy loaded.
    if name in ("analyze", "Analysis"):
        from . import analysis

        return getattr(analysis, name)
    if name == "SipdiagError":
        from .errors import SipdiagError

        return SipdiagError
    raise AttributeError(name)
