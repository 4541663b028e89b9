"""Whether this kernel can encrypt an overlay's VXLAN traffic with IPsec ESP, as
dockerd's `--opt encrypted` does (xfrm states with aead rfc4106(gcm(aes)) in transport
mode between node addresses, policies matching UDP to the VXLAN port).

The check asks the kernel itself: one such xfrm state added in a throwaway network
namespace (`unshare --net ip xfrm state add ...`, an exec'd program: the daemon never
changes its own namespace). A kernel built without ESP or GCM (CONFIG_INET_ESP,
CONFIG_CRYPTO_GCM) answers "Requested AEAD algorithm not found"; that answer is what
the refusal quotes.
"""

from __future__ import annotations

import functools
import subprocess

_PROBE = [
    "unshare", "--net", "ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2",
    "proto", "esp", "spi", "0x100", "reqid", "1", "mode", "transport",
    "aead", "rfc4106(gcm(aes))", "0x" + "11" * 20, "128",
]  # fmt: skip


@functools.cache
def missing() -> str:
    """Why ESP with AES-GCM cannot be used here ("" when it can)."""
    try:
        p = subprocess.run(_PROBE, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return "" if p.returncode == 0 else (p.stderr.strip() or f"exit status {p.returncode}")
