"""In-process nftables: the four calls of libnftables (the library the ``nft`` tool is built on).

Why not ``nft -f`` per change: a process start (through ``ip netns exec``) costs 5–10 ms, which
*is* the cost of a set-element update (shared/reference/datapath.md §5.2) and capped the endpoint
attach rate. The official Python binding (``python3-nftables``) is only packaged for the system
interpreter, not on PyPI, and is itself a ctypes wrapper of these same calls.

A context opens its netlink socket inside the namespace it is created in (on the calling thread)
and keeps talking to that namespace afterwards, whatever namespace the thread is in later.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

_LIBRARY: Any = None


def _library() -> Any:
    global _LIBRARY
    if _LIBRARY is None:
        lib = ctypes.CDLL(ctypes.util.find_library("nftables") or "libnftables.so.1", use_errno=True)
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        _LIBRARY = lib
    return _LIBRARY


class NftError(Exception):
    pass


class Nft:
    """One libnftables context. ``run`` executes a script (one transaction) and returns its
    output; on error it raises :class:`NftError` with nft's own message and nothing is applied."""

    def __init__(self) -> None:
        self._lib = _library()
        self._ctx = self._lib.nft_ctx_new(0)
        if not self._ctx:
            raise NftError("nft_ctx_new failed")
        self._lib.nft_ctx_buffer_output(self._ctx)
        self._lib.nft_ctx_buffer_error(self._ctx)

    def run(self, script: str) -> str:
        if self._ctx is None:
            raise NftError("nft context is closed")
        status = self._lib.nft_run_cmd_from_buffer(self._ctx, script.encode())
        # Reading a buffer also resets it: errors never pile up across calls.
        output = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
        error = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if status != 0:
            raise NftError(error.strip() or f"nft failed ({status})")
        return output

    def close(self) -> None:
        if self._ctx is not None:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None
