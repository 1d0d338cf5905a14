"""Upstream drift fails at import: each compat wrapper first checks the signature it wraps."""
import inspect


class UpstreamChangedError(ImportError):
    """An upstream function a compat fix wraps no longer has the signature the fix was written for."""


def parameters_text(fn):
    """``fn``'s parameters as ``"a, b=1, *args, **kw"``: names, defaults and kinds, no annotations."""
    out = []
    for p in inspect.signature(inspect.unwrap(fn)).parameters.values():
        star = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        out.append(star + p.name + ("" if p.default is p.empty else f"={p.default!r}"))
    return ", ".join(out)


def expect_signature(fn, expected):
    """Raise :class:`UpstreamChangedError` unless ``fn``'s parameters read ``expected``, e.g.
    ``"self, src_tokens, target_tokens=None, **unused"``. Returns ``fn``."""
    actual = parameters_text(fn)
    if actual != expected:
        where = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
        raise UpstreamChangedError(f"d2v_ext compat: upstream {where} changed: its parameters are ({actual}); the fix "
                                   f"was written for ({expected}). Check the fix before using this fairseq version.")
    return fn
