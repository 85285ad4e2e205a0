"""Link-layer header types (https://www.tcpdump.org/linktypes.html) that sipdiag decodes."""

NULL = 0  # BSD loopback, address family in host byte order
ETHERNET = 1
RAW = 101  # raw IPv4/IPv6, version from the first nibble
RAW_DLT12 = 12  # DLT_RAW as OpenBSD and some libpcap builds write it
RAW_DLT14 = 14
LOOP = 108  # OpenBSD loopback, address family in network byte order
SLL = 113  # Linux cooked capture v1
SLL2 = 276  # Linux cooked capture v2
IPV4 = 228
IPV6 = 229

RAW_LINKTYPES = (RAW, RAW_DLT12, RAW_DLT14)

NAMES = {
    NULL: "null", ETHERNET: "ethernet", RAW: "raw", RAW_DLT12: "raw", RAW_DLT14: "raw", LOOP: "loop",
    SLL: "linux-sll", SLL2: "linux-sll2", IPV4: "ipv4", IPV6: "ipv6",
}


def linktype_name(code: int) -> str:
    """A short name for a link type, `linktype-N` for those sipdiag does not decode."""
    return NAMES.get(code, f"linktype-{code}")
