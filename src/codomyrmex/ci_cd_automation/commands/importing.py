"""``cicd import`` and ``cicd translate``: native CI files in, through the neutral model.

``import`` writes the pipeline file, its notes on stderr; ``translate`` renders the import for a
provider and reports, once each, the notes and losses, jobs named as in the native file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..literals import Provider, parse_provider
from ..translators import Loss, render
from ..translators.importing import Imported, ImportNote, dump_neutral, import_pipeline
from .shared import EXIT_FAILED, EXIT_OK, count, provider_flag, write_atomic


def import_(file: str, output: str | None, provider: str | None) -> int:
    imported = import_pipeline(Path(file), provider_flag(provider))
    for note in imported.notes:
        print(note.format(), file=sys.stderr)
    text = dump_neutral(imported)
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    write_atomic(Path(output), text)
    print(f"wrote {output} ({count(len(imported.notes), 'note')})", file=sys.stderr)
    return EXIT_OK


def translate(file: str, provider: str | None, to: str, out: Path | None, strict: bool) -> int:
    target = parse_provider(to)
    imported = import_pipeline(Path(file), provider_flag(provider))
    rendering = render(imported.pipeline, target)
    report = [n.format() for n in _lost_notes(imported, target)]
    # The import notes already name each construct kept in the source provider's escape
    # hatch, one by one; the renderer's summary of those hatches would say it twice.
    hatch_rule = f"{imported.provider}-only"
    report += [
        f"{file}: {_loss_text(loss, imported)}"
        for loss in rendering.losses
        if loss.rule != hatch_rule
    ]
    for line in report:
        print(line, file=sys.stderr)
    if out is None:
        for rel, text in sorted(rendering.files.items()):
            if len(rendering.files) > 1:
                sys.stdout.write(f"# --- {rel}\n")
            sys.stdout.write(text)
    else:
        for rel, text in sorted(rendering.files.items()):
            write_atomic(out / rel, text)
            print(f"wrote {out / rel}", file=sys.stderr)
    print(
        f"{file} -> {target}: {count(len(report), 'construct')} did not carry over exactly",
        file=sys.stderr,
    )
    return EXIT_FAILED if strict and report else EXIT_OK


def _lost_notes(imported: Imported, target: Provider) -> list[ImportNote]:
    """Import notes that matter for ``target``: all of them, unless it is the same provider,
    where what the escape hatch keeps comes back verbatim (only real changes count)."""
    if target != imported.provider:
        return list(imported.notes)
    return [n for n in imported.notes if not n.kept_verbatim]


def _loss_text(loss: Loss, imported: Imported) -> str:
    """A rendering loss with the job named as in the native file, not by model indices."""
    text = loss.format()
    path = loss.path
    if len(path) >= 4 and path[0] == "stages" and path[2] == "jobs":
        stage, job = path[1], path[3]
        if not isinstance(stage, int) or not isinstance(job, int):
            return text
        try:
            name = imported.pipeline.stages[stage].jobs[job].name
        except IndexError:
            return text
        rest = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path[4:])
        return f"{loss.target}: jobs.{name}{rest}: {loss.message} [{loss.rule}]"
    return text
