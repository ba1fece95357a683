"""report.md: the four questions a user brings, answered from the rows first; the evidence is on linked pages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from harness.decl import caseids
from harness.decl.cells import Matrix
from harness.decl.scenarios import Scenario
from harness.readers import bisects, causes, zoo
from harness.readers.model import GLOSSARY, View
from harness.readers.sections import latency, sweep, upgrade_paths
from harness.readers.sections.cases import compat_table, findings, summary_table
from harness.readers.sections.upgrade_paths import ROUTE_FILES, SEED_FILE

SEED = "masking-lstm"
BACKENDS = ("tensorflow", "jax", "torch")
UPGRADE = "upgrade"  # the handler of the upgrade paths, whose frame answers question 1


def _link(page: Path, root: Path, anchor: str = "") -> str:
    return Path(os.path.relpath(page, root)).as_posix() + (f"#{anchor}" if anchor else "")


def primary(data: dict[str, Any]) -> str | None:
    """The machine whose rows answer (the one with the most verdicts: the full CPU matrix)."""
    counts = pd.Series([v["machine"] for v in data["verdicts"]]).value_counts()
    return str(counts.index[0]) if not counts.empty else None


def route_table(df: pd.DataFrame, matrix: Matrix) -> pd.DataFrame:
    """Per route: pairs of different saving and loading cells whose file loads and predicts the same, by kind."""
    cells = {c.id: c for c in matrix.cells}
    records = []
    for route, files in ROUTE_FILES.items():
        sub = df[df["source"].isin(files) & (df["saved_by"] != df["loaded_by"]) & (df["text"] != "not saved")]
        if sub.empty:
            continue
        rec: dict[str, Any] = {"route": route, "ok": int((sub["text"] == "ok").sum()), "pairs": len(sub)}
        for kind in ("Keras 2 → Keras 3", "Keras 3 → newer Keras 3", "Keras 3 → older Keras 3"):
            pick = [
                t == "ok"
                for s, ld, t in zip(sub["saved_by"], sub["loaded_by"], sub["text"], strict=True)
                if upgrade_paths.transition(cells[str(s)], cells[str(ld)]) == kind
            ]
            rec[kind] = f"{sum(pick)}/{len(pick)}" if pick else "—"
        fails = sub.loc[sub["text"] != "ok", "text"].value_counts()
        rec["how the rest fail"] = ", ".join(f"{n} `{t}`" for t, n in fails.head(3).items()) or "—"
        records.append(rec)
    out = pd.DataFrame(records)
    if out.empty:
        return out
    out["share"] = out["ok"] / out["pairs"]
    return out.sort_values(["share", "pairs"], ascending=[False, False]).reset_index(drop=True)


def keras2_answer(df: pd.DataFrame, matrix: Matrix) -> str | None:
    """Which of the seed's and the workarounds' files saved by Keras 2 (or tf-keras) a Keras 3 cell loads."""
    cells = {c.id: c for c in matrix.cells}
    mine = df[df["source"].str.startswith(("masking-lstm/", "workarounds/")) & (df["text"] != "not saved")]
    kinds = [upgrade_paths.transition(cells[str(s)], cells[str(ld)]) for s, ld in zip(mine["saved_by"],
             mine["loaded_by"], strict=True)]  # fmt: skip
    pairs = mine[[k == "Keras 2 → Keras 3" for k in kinds]]
    if pairs.empty:
        return None
    ok = pairs.groupby("source")["text"].agg(lambda t: f"{int((t == 'ok').sum())}/{len(t)}")
    good = [f"`{src}` ({n})" for src, n in ok.items() if not n.startswith("0/")]
    bad = [src for src, n in ok.items() if n.startswith("0/")]
    shim = df[df["source"].str.startswith(upgrade_paths.SHIM) & (df["text"] != "not saved")]
    shim = shim[[upgrade_paths.transition(cells[str(s)], cells[str(ld)]) == "Keras 2 → Keras 3"
                 for s, ld in zip(shim["saved_by"], shim["loaded_by"], strict=True)]]  # fmt: skip
    by_file = shim.groupby("source")["text"].agg(lambda t: f"{int((t == 'ok').sum())}/{len(t)}")
    shimmed = [f"`{str(src).removeprefix(upgrade_paths.SHIM)}` {n}" for src, n in by_file.items()]
    return (
        "A Keras 2 or tf-keras file of the seed case or a workaround, loaded by Keras 3: "
        + (f"loads and predicts the same only as {', '.join(good)}" if good else "no file loads and predicts the same")
        + f"; the other {len(bad)} files (every full-model `.keras` and `.h5`, list mask included) load in none of "
        "their pairs as saved."
        + (
            " What the shim route changes: rewritten for the loading release (`time_major` dropped, tagged values "
            "made plain; `nox -s repair -- --for RELEASE IN OUT`), the whole-model files load and predict the same "
            f"in {int((shim['text'] == 'ok').sum())} of {len(shim)} pairs: " + ", ".join(shimmed) + "."
            if len(shim)
            else ""
        )
    )


def zoo_answer(df: pd.DataFrame, matrix: Matrix, root: Path, static: zoo.Static | None = None) -> list[str]:
    """Other kinds of model (the zoo), caniuse-style: per kind, the releases that load what the newest Keras 2 and
    Keras 3 saved (pip constraints), its first broken and first fixed Keras 3 release with causes; then how often
    `check`'s static reading predicts loading."""
    zdf = df[df["source"].str.startswith(upgrade_paths.ZOO)]
    table = zoo.caniuse(zdf, matrix, ".keras") if not zdf.empty else pd.DataFrame()
    if table.empty:
        return []
    page = next(iter(sorted((root / "report").glob(f"{zoo.ZOO_PAGE}-*.md"))), None)
    link = f" Every format, by kind of upgrade, per saving release: [{page.name}]({_link(page, root)})." if page else ""
    agree = zoo.agreement_line(zoo.agreement(zdf, static or {}, matrix))
    return [
        "",
        "Other kinds of model, as `.keras` files (the zoo, `scenarios/zoo.toml`; every default cell saves each and "
        "loads every other's): where a file saved by the newest Keras 2 or Keras 3 loads and predicts the same, as pip "
        "constraints over the tested releases (Keras 3 on the tensorflow backend; the other backends named where they "
        "do not load it), and per kind the first Keras 3 release that broke it and the first that fixed it." + link,
        "",
        str(table.to_markdown(index=False)),
        *(["", agree] if agree else []),
    ]


def fix_answer(
    df: pd.DataFrame, matrix: Matrix, grid_ok: dict[str, str], tries: pd.DataFrame | None = None
) -> list[str]:
    """Which fix, per situation, from the upgrade rows: the route that carries most files across releases."""
    table = route_table(df, matrix)
    if table.empty:
        return ["No upgrade rows yet: run `nox -s matrix`."]
    best = table.iloc[0]
    out = []
    resave = table[~table["route"].isin(("repair", "custom-objects", "shim", "none (the plain tensor file)"))]
    if not resave.empty:
        top = resave.iloc[0]
        out.append(
            f"- **If you can still save the model in the release that made it:** use `{top['route']}`: its files load "
            f"and predict the same in {top['ok']} of {top['pairs']} pairs of different saving and loading cells "
            f"({top['share']:.0%}); in the cell that saved them: {grid_ok.get(str(top['route']), 'not measured')}."
        )
    held = table[table["route"].isin(("repair", "custom-objects", "shim"))]
    if not held.empty:
        top = held.iloc[0]
        how = {
            "repair": " — rewrite the file once with `nox -s repair -- model.keras model-fixed.keras` (it never "
            "changes the input) and load the new one normally.",
            "shim": " — rewrite the file once for the release that will load it, `nox -s repair -- --for RELEASE "
            "model.keras model-fixed.keras` (it never changes the input; it writes nothing where it cannot drop an "
            "argument safely), and load the new one normally there.",
            "custom-objects": " — load it with `custom_objects={'Masking': <a subclass whose from_config untags the "
            "value>}`.",
        }
        out.append(
            f"- **If you only have a saved `.keras` file with a tensor mask:** `{top['route']}` carries it in "
            f"{top['ok']} of {top['pairs']} pairs ({top['share']:.0%})" + how[str(top["route"])]
        )
    shim_line = upgrade_paths.shim_sentence(tries) if tries is not None else None
    if shim_line:
        out.append(f"- **Any whole-model file that fails to load:** {shim_line}")
    plain = table[table["route"] == "none (the plain tensor file)"]
    if not plain.empty:
        out.append(
            f"- Doing nothing carries the plain tensor file in {plain.iloc[0]['ok']} of {plain.iloc[0]['pairs']} "
            f"pairs. The most reliable route overall: `{best['route']}` ({best['share']:.0%})."
        )
    shown = table.drop(columns=["share"]).rename(columns={"ok": "ok pairs", "pairs": "of pairs"})
    intro = (
        "Per route, over pairs of different saving and loading cells (a route's files for a float64 and a "
        "float32 tensor mask; `list`: the mask given as a list):"
    )
    out += ["", intro, "", str(shown.to_markdown(index=False))]
    return out


def latency_answer(data: dict[str, Any], records: list[dict[str, Any]], root: Path,
                   latency_pages: dict[str, Path]) -> list[str]:  # fmt: skip
    """Masked against unmasked per backend and device, and the latency changes a bisect found."""
    lat = pd.DataFrame(data["latency"])
    out = []
    if not lat.empty:
        lat = lat[lat["masked_over_unmasked"].notna()]
        cells = data["cells"]
        for (mid, device), grp in lat.groupby(["machine", "device"]):
            parts = []
            for backend in BACKENDS:
                sub = grp[[cells[c]["backend"] == backend for c in grp["cell_id"]]]
                for rnn in ("lstm", "gru"):
                    vals = sub[sub["case"] == f"latency/{rnn}:masked:predict_on_batch"]["masked_over_unmasked"]
                    if len(vals):
                        parts.append(
                            f"{backend} {rnn.upper()} ×{vals.median():.2f} (cells: {vals.min():.2f}–{vals.max():.2f},"
                            f" n={len(vals)})"
                        )
            if parts:
                page = latency_pages.get(str(mid))
                where = f"[{device} on `{mid}`]({_link(page, root)})" if page else f"{device} on `{mid}`"
                out.append(
                    f"Masked / unmasked `predict_on_batch` time, median over cells, {where}: " + "; ".join(parts)
                )
    found = bisects.regressions(records)
    for rec in found:
        ci = rec.get("ci") or [None, None]
        ci_text = f" [95% CI {ci[0]:+.0%}, {ci[1]:+.0%}]" if None not in ci else ""
        change = f"{rec['change']:+.0%}" if rec.get("change") is not None else "changed"
        p = f", p = {rec['p']:.3g}" if rec.get("p") is not None else ""
        write_up = Path("experiments/bisect") / str(rec["write_up"])
        out.append(
            f"**Release step found:** `{rec['case']}` on a {rec['base'].get('backend')} base: {rec['axis']} "
            f"{rec.get('last_before')} → {rec['first_release']}: {change}{ci_text}{p} "
            f"([bisect write-up]({write_up.as_posix()}))."
        )
    for c in bisects.contradicted(records, data):
        rec, probe = c["record"], c["probe"]
        stale = (Path("experiments/bisect") / str(rec["write_up"])).as_posix()
        out.append(
            f"**Stale bisect write-up:** [`{rec['case']}` over {rec['axis']}]({stale}) said {probe['against']} → "
            f"{probe['release']} {probe['verdict']} ({probe['change']:+.0%}, {str(rec.get('when', ''))[:10]}); the "
            f"newer rows of `{c['machine']}` say {c['change']:+.0%} from `{c['from']}` to `{c['to']}`, 95% CIs "
            f"{'apart' if c['apart'] else 'overlapping'}. Rerun it: `{rec.get('command', 'nox -s bisect')}`."
        )
    quiet = [r for r in records if r["kind"] == "latency" and not r["first_release"]]
    if quiet:
        out.append(
            "Searched without finding a change: "
            + "; ".join(
                f"[`{r['case']}` over {r['axis']}]({(Path('experiments/bisect') / str(r['write_up'])).as_posix()}): "
                f"{r['summary']}"
                for r in quiet
            )
        )
    if not out:
        out.append("No latency rows yet: run `nox -s bench`.")
    return out


def steps_answer(views: dict[str, View], scens: list[Scenario], root: Path, pages: dict[str, Path]) -> list[str]:
    """Per machine and device, how many adjacent-release steps changed a case's time (CIs apart), and the largest."""
    scen = next((s for s in scens if s.handler == "latency"), None)
    out = []
    for mid, view in views.items():
        if scen is None or scen.id not in view.ran:
            continue
        for device, steps in latency.steps_by_device(view, scen).items():
            page = pages.get(mid)
            anchor = "steps-" + latency.slug(device)
            where = f"[{device} on `{mid}`]({_link(page, root, anchor)})" if page else f"{device} on `{mid}`"
            if steps.empty:
                out.append(f"Release steps, {where}: no adjacent releases whose 95% CIs do not overlap.")
                continue
            top = steps.reindex(steps["change"].abs().sort_values(ascending=False).index).head(3)
            said = "; ".join(f"{r['backend']} `{r['case']}` {r['from']} → {r['to']} {r['change']:+.0%}"
                             for r in top.to_dict("records"))  # fmt: skip
            out.append(f"Release steps, {where}: {len(steps)} adjacent-release changes with 95% CIs apart (masked "
                       f"and unmasked apart); the largest: {said}.")  # fmt: skip
    return out


def sweep_answer(views: dict[str, View], scens: list[Scenario], root: Path, index: list[tuple[str, str, Path]]
                 ) -> list[str]:  # fmt: skip
    """How cost grows with the work (the sweep), per machine: masked over the real work at half padding, what
    sorting by length saves, where masked cost does not shrink with the real steps; a link to the curves."""
    scen = next((s for s in scens if s.handler == "sweep"), None)
    out = []
    for mid, view in views.items():
        if scen is None or scen.id not in view.ran:
            continue
        lines = sweep.answers(sweep.frame(view.plain, scen, view.shown), view.shown)
        page = next((p for m, t, p in index if m == mid and f"`{scen.id}`" in t), None)
        if lines and page:
            lines[-1] += f" Curves, fits and every point: [{page.name}]({_link(page, root)})."
        out += lines
    return out


ANSWER_3 = "#3-is-masked-inference-slower-and-did-a-release-make-it-slower-on-gpu"


def sweep_headline(views: dict[str, View], scens: list[Scenario]) -> str:
    """The sweep's one sentence for the first screen, from the first machine that ran it."""
    scen = next((s for s in scens if s.handler == "sweep"), None)
    for view in views.values():
        if scen is not None and scen.id in view.ran:
            return sweep.headline(sweep.frame(view.plain, scen, view.shown), view.shown)
    return ""


def seed_answer(table: pd.DataFrame, matrix: Matrix, records: list[dict[str, Any]]) -> list[str]:
    """Where the seed case breaks per family when saved and loaded in one cell, with the bisected fix."""
    lines = findings(table, matrix)
    out = []
    for line in lines:
        for rec in records:
            if rec["kind"] == "outcome" and rec["first_release"] and f"`{caseids.split(rec['case'])[1]}`" in line:
                write_up = (Path("experiments/bisect") / str(rec["write_up"])).as_posix()
                line += (
                    f" A bisect over {rec['axis']} on `{rec['base'].get('cell')}`: **first fixed in {rec['axis']} "
                    f"{rec['first_release']}** (last failing {rec.get('last_before')}; [write-up]({write_up}))."
                )
        out.append(f"- {line}")
    return out


def causes_answer(view: View, root: Path, machine_page: Path | None) -> list[str]:
    """The share of failing rows with a known cause, then each cause with its rows, linked to its evidence."""
    table = causes.table(view.rows, view.shown, view.scens)
    known, total = causes.explained(table)
    if not total:
        return ["No failing rows."]
    out = [
        f"{known} of {total} failing rows of `{view.machine_id}` ({100 * known / total:.1f}%, every scenario, "
        "upgrade paths included) have a cause of the catalog ([`causes/causes.toml`](causes/causes.toml)); each "
        "failing entry of every table names its cause. Per cause, the cells it is seen in (where a file was "
        "loaded, and the cells that saved it) are on the machine page.",
        "",
    ]

    def link(cid: str) -> str:
        return f"[`{cid}`]({_link(machine_page, root, 'cause-' + cid)})" if machine_page else f"`{cid}`"

    lines = [
        f"- {link(str(c))} ({n} rows): {sentence}." + (f" Upstream: <{u}>." if u else "")
        for c, n, sentence, u in zip(table["cause"], table["rows"], table["sentence"], table["upstream"], strict=True)
    ]  # one line per cause, largest first (a table would pad every sentence to the longest)
    return [*out, *lines]


def _detail_pages(index: list[tuple[str, str, Path]], root: Path) -> list[str]:
    """Every detail page by machine, the seed's first, then the upgrade paths, then the rest by importance."""
    out = []
    order = ["masking-lstm", "upgrade", "workarounds", "latency", "rnn-breadth", "beyond-masking", "cross-load"]
    for m in sorted({m for m, _, _ in index}):
        out.append(f"- `{m}`:")
        mine = [(t, p) for mm, t, p in index if mm == m]
        mine.sort(key=lambda tp: next((i for i, s in enumerate(order) if f"`{s}`" in tp[0]), len(order)))
        out += [f"  - [{t}]({_link(p, root)})" for t, p in mine]
    return out


def render(
    data: dict[str, Any],
    views: dict[str, View],
    matrix: Matrix,
    scens: list[Scenario],
    records: list[dict[str, Any]],
    index: list[tuple[str, str, Path]],
    root: Path,
) -> str:
    """report.md: answers, then the seed case, then the rest by importance, then where every detail lives."""
    gen = data["generated"]
    when = ", ".join(
        f"`{m['id']}` {str(m['measured_from'])[:16]} to {str(m['measured_to'])[:16]} UTC" for m in data["machines"]
    )
    out = ["# Masking + RNN compatibility report", ""]
    out.append(
        f"Generated by `{gen['command']}` at commit `{gen.get('commit') or 'unknown'}` from `results/` alone "
        f"(do not edit by hand). Rows measured on {when or 'no machine yet'}. Every entry is a real "
        "run in a pinned environment; its page gives when, the packages and a command that reruns it. "
        "Terms: [glossary](#glossary). Data: [`results/summary.json`](results/summary.json) "
        "([schema](results/summary.schema.json))."
    )
    mid = primary(data)
    if mid is None:  # no compatibility entries (yet): the pages other kinds wrote are still listed
        listed = ["", "## Detail pages", "", *_detail_pages(index, root)] if index else []
        return "\n".join([*out, "", "No results yet: run `nox -s matrix`.", *listed, ""])
    shown, grid = views[mid].shown, views[mid].grid
    seed = [s for s in scens if s.id == SEED]
    seed_table = compat_table(grid, shown, seed)
    pages = {(m, title): page for m, title, page in index}
    upgrade_page = next((p for (m, t), p in pages.items() if m == mid and "`upgrade`" in t), None)
    seed_page = next((p for (m, t), p in pages.items() if m == mid and f"`{SEED}`" in t), None)
    grid_ok: dict[str, str] = {}
    for route in ROUTE_FILES:
        states = [e.status for (_, k), e in grid.items() if k.startswith(f"workarounds/{route}:")]
        if states:
            grid_ok[route] = f"ok in {states.count('ok')} of {len(states)} (cell, case) entries"
    out += ["", "## Answers", "", f"From the rows of `{mid}` unless a line names another machine.", ""]
    cost = sweep_headline(views, scens)
    if cost:
        out += [f"**Masked inference, in short:** {cost} Details in [answer 3]({ANSWER_3}).", ""]
    out += ["### 1. My model was saved with one release. Will it load and predict the same on another?", ""]
    out += [
        "- **Your own file:** `nox -s check -- model.keras` (or `.h5`, a SavedModel folder) loads it, in a sandbox, "
        "in the release that saved it and the newest of each family (`--to keras=3.8.0` for another), compares "
        "the outputs, names each failure's cause and prints the fix that works there with its command "
        "([README: Check your own saved model](README.md#check-your-own-saved-model)). The rows below answer for "
        "the files the matrix saves."
    ]
    df = views[mid].frames.get(UPGRADE)  # left there by the upgrade-paths section
    if df is not None:
        out += [f"- {line}" for line in upgrade_paths.answers(df, shown)]
        k2 = keras2_answer(df, shown)
        out += [f"- {k2}"] if k2 else []
        tensor = df[df["source"] == SEED_FILE]
        if not tensor.empty:
            out += [
                "",
                "A `.keras` file with a float64 tensor `mask_value` (the seed case), saved by (rows) and loaded by "
                "(columns); alike neighbours merged into ranges:",
                "",
                upgrade_paths.table(tensor, shown),
            ]
        todo = upgrade_paths.what_to_do(df[df["source"].str.startswith(f"{SEED}/")], shown)
        if not todo.empty:
            out += [
                "",
                "What to do where a seed file fails as saved, by kind of upgrade: the route that carries it, counted "
                "over the failing pairs of different cells (`shim`: `nox -s repair -- --for RELEASE IN OUT`, the file "
                "rewritten for the release that loads it; each route's command is on the upgrade page, and the "
                "site's lookup gives it for each pair):",
                "",
                str(todo.to_markdown(index=False)),
            ]
        if upgrade_page:
            out += [
                "",
                f"Every other saved file, the list mask, the shim route pair by pair and what to do for each kind of "
                f"file: [{upgrade_page.name}]({_link(upgrade_page, root)}).",
            ]
    if df is not None:
        out += zoo_answer(df, shown, root, views[mid].frames.get(zoo.ZOO_SCENARIO + ":static"))
    out += ["", "Saved and loaded in the same cell (the seed case, per family):", ""]
    out += seed_answer(seed_table, shown, records)
    out += ["", "### 2. Which fix should I apply, and does it work everywhere?", ""]
    tries = views[mid].frames.get(UPGRADE + ":shim")
    out += fix_answer(df, shown, grid_ok, tries) if df is not None else ["No upgrade rows yet."]
    out += ["", "### 3. Is masked inference slower, and did a release make it slower? On GPU?", ""]
    lat_pages = {m: p for (m, t), p in pages.items() if "`latency`" in t}
    out += [f"- {line}" for line in sweep_answer(views, scens, root, index)]
    out += [f"- {line}" for line in latency_answer(data, records, root, lat_pages)]
    out += [f"- {line}" for line in steps_answer(views, scens, root, lat_pages)]
    out += ["", "### 4. Can I trust an entry? When, where, how do I reproduce it?", ""]
    for m in data["machines"]:
        page = pages.get((m["id"], "Machine: cells, packages, causes, error signatures, skipped routes"))
        link = f"[`{m['id']}`]({_link(page, root)})" if page else f"`{m['id']}`"
        out.append(
            f"- {link}: {m['description']}; measured {str(m['measured_from'])[:16]} to {str(m['measured_to'])[:16]} "
            "UTC by " + ", ".join(f"`{c}`" for c in m["commands"][:3]) + "."
        )
    out.append(
        "- Every scenario page ends with each cell's provenance (when, the code's declared version, the harness "
        "commit where the row recorded it, every package) and a command per entry that reruns it with the recorded "
        "packages. Failing entries name their cause and link to it."
    )
    machine_page = pages.get((mid, "Machine: cells, packages, causes, error signatures, skipped routes"))
    out += ["", "## Why entries fail", "", *causes_answer(views[mid], root, machine_page)]
    out += ["", f"## The seed case: `Masking(mask_value=...)` → LSTM, saved and loaded in one cell (`{mid}`)", ""]
    summary = _family_summary(seed_table, shown)
    out += [summary, ""]
    if seed_page:
        out.append(
            f"Every cell, the heat-map and each entry's provenance: [{seed_page.name}]({_link(seed_page, root)})."
        )
    out += ["", "## Detail pages", "", *_detail_pages(index, root)]
    out += [
        "- Experiments behind the README's claims (bisects, triages, spread, GPU diagnostics such as the TF32 "
        "explanation of the torch GPU `≠`): [experiments/](experiments/README.md).",
    ]
    out += ["", "## Scope", ""]
    for s in scens:
        where = ", ".join(f"`{c}`" for c in s.cells) if s.cells else "every default cell"
        out.append(f"- `{s.id}` (declaration hash `{s.hash}`): {s.title}. Runs on {where}.")
    if matrix.excluded:
        out += ["", "Excluded cells: " + "; ".join(f"`{e.id}`: {e.reason}" for e in matrix.excluded) + "."]
    out += ["", "## Glossary", ""]
    out += [f"- **{term}**: {text}" for term, text in GLOSSARY.items()]
    return "\n".join(out).rstrip() + "\n"


def _family_summary(table: pd.DataFrame, matrix: Matrix) -> str:
    """Rows = seed cases, columns = families: the releases where each holds and where it fails."""
    summary = summary_table(table, matrix)
    summary.insert(0, "case", list(summary.index))
    return str(summary.to_markdown(index=False))
