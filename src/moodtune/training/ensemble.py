"""Several exported emotion models as one ONNX graph: their log-probabilities averaged.

    python -m moodtune.training.ensemble OUT.onnx MEMBER.onnx MEMBER.onnx [...]

A member may itself be an ensemble (e.g. the shipped model): its networks join as members of
their own, so every network gets the same weight.

Every member takes raw pixels ``faces`` (N, 1, S, S) and ends in its own temperature and
softmax (``training.export``). The ensemble takes the same input and answers
``softmax(mean_i log p_i / T)``: the members' geometric mean, recalibrated by a temperature ``T``
fitted on FER2013 PublicTest (minimum NLL, ``calibrate.fit_temperature``). Its card names the
members, keeps the first member's mirror rule (``tta``, ``tta_gate``) and gets the "not sure"
threshold and ECE through the runtime classifier (``calibrate.measure``). Run time and size
add up over the members.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from moodtune.errors import MoodtuneError

#: probabilities are clipped here before the log (an int8 graph's output has steps of 1/255)
FLOOR = 1e-4


def networks(model):
    """The member networks of an ensemble ``ModelProto`` (each as a model of its own, named like
    the ensemble's input and output), or ``[model]`` when it is a single network."""
    from onnx.shape_inference import infer_shapes
    from onnx.utils import Extractor

    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    produced = {o for n in model.graph.node for o in n.output}
    if f"m0_{name_out}" not in produced:
        return [model]
    extractor = Extractor(infer_shapes(model))
    out: list = []
    while f"m{len(out)}_{name_out}" in produced:
        member_out = f"m{len(out)}_{name_out}"
        net = extractor.extract_model([name_in], [member_out])
        for node in net.graph.node:
            node.output[:] = [name_out if o == member_out else o for o in node.output]
        net.graph.output[0].name = name_out
        del net.graph.value_info[:]  # the inferred shapes would rename the input in ``build``'s prefixing
        out.append(net)
    return out


def _member_cards(path: Path) -> list[dict]:
    """One card per network of the model at ``path``: an ensemble's card lists its members."""
    card = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").is_file() else {}
    if "members" not in card:
        return [{"name": path.stem, **card, "file": path.name}]
    shared = {k: card[k] for k in ("tta", "tta_gate", "input_size", "precision") if k in card}
    n, epochs = len(card["members"]), card.get("epochs_run") or []
    return [{**shared, "name": Path(m["file"]).stem, "epochs_run": epochs[i] if i < len(epochs) else None,
             "parameters": card.get("parameters", 0) // n,  # older cards: equal members; newer ones say
             **{k: v for k, v in m.items() if v is not None}} for i, m in enumerate(card["members"])]


def build(members: list[Path], temperature: float = 1.0):
    """The ensemble's ``onnx.ModelProto`` (see the module docstring)."""
    import onnx
    from onnx import TensorProto, compose, helper

    models = [net for m in members for net in networks(onnx.load(str(m)))]
    if len(models) < 2:
        raise MoodtuneError("an ensemble needs at least two member models")
    first = models[0].graph
    name_in, name_out = first.input[0].name, first.output[0].name
    nodes, inits, logs = [], [], []
    for i, m in enumerate(models):
        if (m.graph.input[0].name, m.graph.output[0].name) != (name_in, name_out):
            raise MoodtuneError(f"member {i + 1}: input/output names differ from the first member's")
        p = compose.add_prefix(m, f"m{i}_", rename_inputs=False)
        nodes.extend(p.graph.node)
        inits.extend(p.graph.initializer)
        out = f"m{i}_{name_out}"
        nodes.append(helper.make_node("Max", [out, "ensemble_floor"], [f"m{i}_floored"]))
        nodes.append(helper.make_node("Log", [f"m{i}_floored"], [f"m{i}_log"]))
        logs.append(f"m{i}_log")
    inits.append(helper.make_tensor("ensemble_floor", TensorProto.FLOAT, [], [FLOOR]))
    inits.append(helper.make_tensor("ensemble_scale", TensorProto.FLOAT, [], [1.0 / (len(models) * temperature)]))
    nodes.append(helper.make_node("Sum", logs, ["ensemble_sum"]))
    nodes.append(helper.make_node("Mul", ["ensemble_sum", "ensemble_scale"], ["ensemble_logits"]))
    nodes.append(helper.make_node("Softmax", ["ensemble_logits"], [name_out], axis=1))
    graph = helper.make_graph(nodes, "moodtune_ensemble", [first.input[0]], [first.output[0]], inits)
    model = helper.make_model(graph, opset_imports=list(models[0].opset_import), ir_version=models[0].ir_version)
    onnx.checker.check_model(model)
    return model


def merge(members: list[Path], out: Path, data=None) -> Path:
    """Write the ensemble of ``members`` to ``out`` with its card (temperature fitted on PublicTest)."""
    import onnx

    from moodtune.training.calibrate import fit_temperature, measure
    from moodtune.training.evaluate import evaluate

    out = Path(out)
    cards = [c for m in members for c in _member_cards(m)]
    onnx.save(build(members), str(out))
    out.with_suffix(".json").write_text("{}\n")  # no mirror pass while the temperature is fitted
    ev = evaluate(str(out), "PublicTest", data=data)
    temperature = fit_temperature(np.log(np.clip(ev.probabilities, 1e-12, None)), ev.labels)
    onnx.save(build(members, temperature), str(out))
    card = {
        "name": "ensemble of " + " + ".join(c["name"] for c in cards),
        "members": [{"file": c["file"], "trained_on": c.get("trained_on"), "config": c.get("config"),
                     "public_test_accuracy": c.get("public_test_accuracy"), "private_test": c.get("private_test"),
                     "batchnorm_statistics": c.get("batchnorm_statistics"), "epochs_run": c.get("epochs_run"),
                     "parameters": c.get("parameters")} for c in cards],
        "architecture": f"{len(cards)} networks in one graph (" + "; ".join(c.get("architecture", c["name"]) for c in cards) + ")",
        "trained_on": "; ".join(sorted({c.get("trained_on", "?") for c in cards})),
        "epochs_run": [c.get("epochs_run") for c in cards],
        "rule": f"softmax(mean of the members' log-probabilities / T), probabilities floored at {FLOOR}",
        "parameters": sum(c.get("parameters", 0) for c in cards),
        "input_size": cards[0].get("input_size", 48),
        "precision": cards[0].get("precision"),
        "temperature_scaling": {"temperature": round(temperature, 4), "fitted_on": "FER2013 PublicTest (minimum NLL)"},
        **{k: cards[0][k] for k in ("tta", "tta_gate") if k in cards[0]},
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    scores = measure(str(out), data=data, write=True)
    card = json.loads(out.with_suffix(".json").read_text())
    card["public_test_accuracy"] = scores["accuracy"]  # through the runtime classifier, mirror rule included
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="the ensemble's .onnx file (its card goes beside it)")
    ap.add_argument("members", type=Path, nargs="+", help="exported member models (.onnx, with their cards)")
    args = ap.parse_args(argv)
    path = merge(args.members, args.out)
    print(f"wrote {path}: {json.loads(path.with_suffix('.json').read_text())}")


if __name__ == "__main__":
    main()
