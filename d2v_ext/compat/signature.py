"""Upstream drift fails at import: each compat wrapper first checks the signature it wraps."""
import functools
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


def install_wrapper(owner, name, expected, make_wrapper, fix):
    """Replace ``owner.<name>`` by ``make_wrapper(original)``, once per ``fix`` (a short name: several
    fixes may wrap the same function, each once), after checking the original's parameters against
    ``expected``. A static method stays static. Returns False when the wrapper is already in place."""
    mark = f"_d2v_ext_{fix}"
    original = getattr(owner, name)
    if getattr(original, mark, False):
        return False
    expect_signature(original, expected)
    wrapper = functools.wraps(original)(make_wrapper(original))
    setattr(wrapper, mark, True)
    static = isinstance(inspect.getattr_static(owner, name), staticmethod)
    setattr(owner, name, staticmethod(wrapper) if static else wrapper)
    return True
