"""The `rolebot` command: a thin layer over the library. All printing happens here.

Heavy imports (torch, sentence-transformers, gradio) happen inside the commands that need
them, so `rolebot --help` is instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import __version__, config
from .errors import RolebotError

log = logging.getLogger("rolebot")


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _paths(args) -> dict:
    return {"knowledge_dir": args.knowledge, "index_dir": args.index}


def _retriever(args):
    from .retriever import Retriever

    retriever = Retriever.load(model=args.model, backend=args.backend, **_paths(args))
    for notice in retriever.notices:
        print(f"rolebot: {notice}", file=sys.stderr)
    return retriever


def cmd_build(args) -> int:
    from . import index
    from .embedding import Embedder

    knowledge_dir, index_dir = index.default_paths(args.knowledge, args.index)
    manifest = index.build(knowledge_dir, index_dir, Embedder(args.model), adapt=config.adapt())
    print(
        f"built {manifest['passages']} passages from {len(manifest['documents'])} document(s) "
        f"in {manifest['build_seconds']:.1f}s ({manifest['embedded']} embedded, {manifest['reused']} reused) "
        f"→ {index_dir} [{manifest['index_type']}, {manifest['model']}]"
    )
    encoder = manifest.get("encoder") or {}
    if "unavailable" in encoder:
        print(f"no ONNX encoder: {encoder['unavailable']}")
    elif encoder:
        print(f"query encoders for --backend onnx / onnx-int8: {', '.join(encoder['files'])} (opset {encoder['opset']})")
    return 0


def _rebuild(args) -> dict:
    from . import index
    from .embedding import Embedder

    knowledge_dir, index_dir = index.default_paths(args.knowledge, args.index)
    return index.build(knowledge_dir, index_dir, Embedder(args.model), adapt=config.adapt())


def cmd_add(args) -> int:
    from . import index
    from .ingest import to_markdown
    from .knowledge import parse_document

    knowledge_dir, _ = index.default_paths(args.knowledge, args.index)
    slug, markdown = to_markdown(Path(args.source), title=args.title, url=args.url)
    target = knowledge_dir / f"{slug}.md"
    if target.name.lower() == "readme.md":  # the loader skips README files: it would never be read
        print(f"rolebot: error: {args.source} would become {target.name}, which rolebot never reads; "
              "pass --title to give the document another name", file=sys.stderr)
        return 1
    if target.exists() and not args.force:
        print(f"rolebot: error: {target} already exists; pass --force to replace it", file=sys.stderr)
        return 1
    doc = parse_document(markdown, target)
    knowledge_dir.mkdir(parents=True, exist_ok=True)
    original = target.read_bytes() if target.exists() else None  # --force: kept until the build succeeds
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(markdown, encoding="utf-8")
    os.replace(tmp, target)  # never a half-written knowledge file
    faqs = sum(p.kind == "faq" for p in doc.passages)
    print(f"wrote {target}: “{doc.title}”, {len(doc.passages)} passages ({faqs} FAQ)")
    try:
        manifest = _rebuild(args)
    except RolebotError:
        if original is None:
            target.unlink()  # a document that breaks the build is not kept
        else:
            tmp.write_bytes(original)
            os.replace(tmp, target)  # the replaced document comes back as it was
            print(f"restored the previous {target}", file=sys.stderr)
        raise
    print(f"index rebuilt: {manifest['passages']} passages, {manifest['embedded']} texts embedded, {manifest['reused']} reused")
    return 0


def cmd_init(args) -> int:
    import shutil

    from . import config, index

    knowledge_dir, _ = index.default_paths(args.knowledge, args.index)
    if knowledge_dir.is_dir() and any(knowledge_dir.glob("*.md")):
        print(f"rolebot: error: {knowledge_dir} already holds knowledge; nothing written", file=sys.stderr)
        return 1
    knowledge_dir.mkdir(parents=True, exist_ok=True)
    for sample in sorted(config.SAMPLE_KNOWLEDGE.glob("*.md")):
        shutil.copy(sample, knowledge_dir / sample.name)
        print(f"wrote {knowledge_dir / sample.name}")
    print("next: `rolebot ask \"what does an ML engineer do?\"` or `rolebot serve`; "
          "replace or add .md files (or `rolebot add page.html`) for your own course")
    return 0


def cmd_list(args) -> int:
    from . import index
    from .knowledge import load_documents

    knowledge_dir, index_dir = index.default_paths(args.knowledge, args.index)
    docs = load_documents(knowledge_dir)
    manifest = index.read_manifest(index_dir) or {}
    built = {d["slug"]: d for d in manifest.get("documents", [])}
    stale = index.check(index_dir, knowledge_dir, manifest.get("model", "")) if manifest else "missing"
    print(f"{'slug':40} {'passages':>8}  title")
    for d in docs:
        print(f"{d.slug:40} {len(d.passages):>8}  {d.title}" + (f"  <{d.url}>" if d.url else ""))
        if d.slug not in built:
            print(f"{'':40} {'':>8}  (not in the index yet)")
    when = manifest.get("built_at", "never")
    print(f"\n{len(docs)} document(s); last build {when}" + (f" ({stale})" if stale else ""))
    return 0


def cmd_remove(args) -> int:
    from . import index
    from .knowledge import load_documents

    knowledge_dir, _ = index.default_paths(args.knowledge, args.index)
    docs = {d.slug: d for d in load_documents(knowledge_dir)}
    if args.slug not in docs:
        print(f"rolebot: error: no document {args.slug!r}; `rolebot list` shows the slugs", file=sys.stderr)
        return 1
    if len(docs) == 1:
        print("rolebot: error: that is the only document; the knowledge base cannot be empty", file=sys.stderr)
        return 1
    docs[args.slug].path.unlink()
    print(f"removed {docs[args.slug].path}")
    manifest = _rebuild(args)
    print(f"index rebuilt: {manifest['passages']} passages from {len(manifest['documents'])} document(s)")
    return 0


def cmd_search(args) -> int:
    hits = _retriever(args).search(args.query, k=args.k, documents=args.document or None)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
        return 0
    for n, h in enumerate(hits, 1):
        print(f"{n}. [{h.score:.4f}] {h.id}  ({h.section})")
        print("   " + h.text.replace("\n", "\n   "))
    return 0


def cmd_ask(args) -> int:
    from .assistant import Assistant

    retriever = _retriever(args)
    bot = Assistant(retriever)
    answer = bot.answer(args.question, documents=args.document or None)
    several = len(retriever.manifest.get("documents", [])) > 1
    if args.json:
        from .reload import build_id

        print(json.dumps(answer.to_dict() | {"build": build_id(retriever)}, indent=2, ensure_ascii=False))
        return 0
    print(answer.text)
    for n, hit in enumerate(answer.citations, 1):
        doc = f" ({hit.document}{', ' + hit.url if hit.url else ''})" if several else ""
        print(f"\n[{n}] {hit.section}{doc} — {hit.id}")
    if answer.suggestions:
        print("\nYou could also ask:")
        for s in answer.suggestions:
            print(f"  - {s}")
    return 0


def cmd_eval(args) -> int:
    from .assistant import Assistant
    from .evaluation import calibrate, evaluate, fit_confidence, format_table, load_set

    items = load_set(args.set or Path("eval") / "questions.jsonl")
    bot = Assistant(_retriever(args))
    report = evaluate(bot, items, baselines=not args.no_baselines)
    if args.json:
        out = report.to_dict() | {"threshold": bot.threshold}
        if args.calibrate:
            out["calibration"] = calibrate(report.confidences)
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"{len(items)} questions from {args.set or 'eval/questions.jsonl'}; abstain threshold {bot.threshold}\n")
    print(format_table(report))
    if args.calibrate:
        print(f"\nconfidence weights fitted on this set: {fit_confidence(report.evidence)}")
        print("\nthreshold  coverage  precision  abstain_recall")
        curve = calibrate(report.confidences)
        for row in curve:
            print(f"{row['threshold']:>9.2f}  {row['coverage']:>8.3f}  {row['precision']:>9.3f}  {row['abstain_recall']:>14.3f}")
        best = max(curve, key=lambda r: (r["coverage"] + r["abstain_recall"], -r["threshold"]))
        print(f"\nthreshold with the best coverage + abstain recall: {best['threshold']}")
    if args.failures:
        print("\nFailures:")
        for f in report.failures:
            print(json.dumps(f, ensure_ascii=False))
    return 0


def cmd_report(args) -> int:
    import datetime

    from . import config
    from .embedding import Embedder
    from .feedback import is_url, open_store
    from .report import build_report, format_report, write_csv

    since = 0.0
    if args.since:
        try:
            since = datetime.datetime.fromisoformat(args.since).replace(tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            print(f"rolebot: error: --since takes a date like 2026-11-01, not {args.since!r}", file=sys.stderr)
            return 2
    target = args.db or config.db_path()
    if not is_url(target) and not os.path.exists(target):
        print(f"rolebot: no feedback yet ({target} does not exist): serve the chat first", file=sys.stderr)
        return 1
    store = open_store(target)
    try:
        rows = store.rows(since)
    finally:
        store.close()
    report = build_report(rows, Embedder(args.model))
    print(format_report(report))
    if args.csv:
        write_csv(report, args.csv)
        print(f"\nwrote {args.csv}")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from .assistant import Assistant
    from .feedback import open_store
    from . import admin, config, index
    from .reload import LiveAssistant, Reloader
    from .server import create_app

    origins = [o.strip() for o in args.allow_origin or os.environ.get("ROLEBOT_ALLOW_ORIGINS", "").split(",") if o.strip()]
    store = open_store(args.db or config.db_path())  # first: a wrong URL fails before the model loads
    token = admin.admin_token(args.admin_token)
    live = LiveAssistant(Assistant(_retriever(args)))
    knowledge_dir, index_dir = index.default_paths(args.knowledge, args.index)
    reloader = Reloader(live, knowledge_dir, index_dir, interval=config.reload_seconds())
    app = create_app(live, store, allow_origins=origins, redis_url=args.redis_url, chat_later=True,
                     trusted_proxies=",".join(args.trusted_proxy) if args.trusted_proxy else None)
    if token:
        admin.mount(app, admin.Console(token, live, store, reloader, knowledge_dir))
    if not origins:
        log.warning("no --allow-origin given: any site can embed this chat in a frame")
    console = f", author console at http://{args.host}:{args.port}/admin/" if token else ""
    print(f"rolebot: chat at http://{args.host}:{args.port}/{console}  (feedback in {store.where})", file=sys.stderr)
    reloader.start(warm=bool(token))  # an author signed in to the console expects edits to go live fast
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from any local peer;
    # only --trusted-proxy decides whose X-Forwarded-For counts (see ratelimit.py).
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=False)
    finally:
        reloader.stop()
        store.flush_counts()
        store.close()
    return 0


DB_HELP = ("feedback database: a SQLite file or a postgresql://user:password@host:port/db URL "
           "(default ./feedback.sqlite3, env ROLEBOT_DB)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rolebot", description="A grounded FAQ chatbot over Markdown knowledge.")
    p.add_argument("--version", action="version", version=f"rolebot {__version__}")
    p.add_argument("--knowledge", help="knowledge folder (default: ./knowledge, env ROLEBOT_KNOWLEDGE)")
    p.add_argument("--index", help="index folder (default: ./index, env ROLEBOT_INDEX)")
    p.add_argument("--model", help="sentence-transformers model name or path (default: bundled MiniLM, env ROLEBOT_MODEL)")
    p.add_argument(
        "--backend",
        choices=config.BACKENDS,
        help=f"query encoder: torch, or the ONNX export beside the index, fp32 or int8 "
        f"(default: {config.DEFAULT_BACKEND}, env ROLEBOT_BACKEND); builds always embed passages with torch",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="start a knowledge/ folder here with the sample article")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("build", help="embed the knowledge and write the index")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("add", help="turn a captured page (HTML, text or Markdown) into knowledge and rebuild")
    s.add_argument("source", help="an .html/.htm, .txt page capture or .md file")
    s.add_argument("--title", help="the document's title (default: from the page)")
    s.add_argument("--url", help="the document's source URL, linked from citations")
    s.add_argument("--force", action="store_true", help="replace a document with the same slug")
    s.set_defaults(func=cmd_add)

    s = sub.add_parser("list", help="the documents in the knowledge base")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("remove", help="delete a document from the knowledge base and rebuild")
    s.add_argument("slug")
    s.set_defaults(func=cmd_remove)

    s = sub.add_parser("search", help="show the passages closest to a query")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=5, help="how many passages (1-50, default 5)")
    s.add_argument("--document", action="append", help="only this document slug (repeatable)")
    s.add_argument("--json", action="store_true", help="print the Hit fields as JSON")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("ask", help="answer a question with citations")
    s.add_argument("question")
    s.add_argument("--document", action="append", help="only this document slug (repeatable)")
    s.add_argument("--json", action="store_true", help="print the Answer fields as JSON")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("eval", help="measure answer quality on an evaluation set, beside baselines")
    s.add_argument("--set", help="JSONL evaluation set (default eval/questions.jsonl)")
    s.add_argument("--json", action="store_true", help="print the figures as JSON")
    s.add_argument("--calibrate", action="store_true", help="also print the precision/coverage curve of the abstain threshold")
    s.add_argument("--failures", action="store_true", help="also list the questions rolebot got wrong")
    s.add_argument("--no-baselines", action="store_true", help="skip the fixed-chunk baselines")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("report", help="what learners asked that the knowledge does not answer, and the downvoted answers")
    s.add_argument("--since", help="only events on or after this date (YYYY-MM-DD)")
    s.add_argument("--csv", help="also write the report to this CSV file")
    s.add_argument("--db", help=DB_HELP)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("serve", help="serve the chat, the JSON API and the embed widget")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--db", help=DB_HELP)
    s.add_argument("--redis-url", help="share the per-client rate limit with other replicas through this Redis, "
                   "e.g. redis://127.0.0.1:6379/0 (env ROLEBOT_REDIS_URL; default: this process's memory)")
    s.add_argument("--trusted-proxy", action="append", metavar="IP",
                   help="a load balancer whose X-Forwarded-For names the client (repeatable or comma-separated, "
                   "networks allowed; env ROLEBOT_TRUSTED_PROXY); anyone else's X-Forwarded-For is ignored")
    s.add_argument(
        "--allow-origin",
        action="append",
        help="a site allowed to embed the chat, e.g. https://courses.example.org "
        "(repeatable; env ROLEBOT_ALLOW_ORIGINS, comma-separated)",
    )
    s.add_argument(
        "--admin-token",
        help="turn on the author console at /admin/, signed in with this token (prefer env ROLEBOT_ADMIN_TOKEN: "
        "a command-line argument is visible to other users of this machine)",
    )
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _offline_env()
    try:
        return args.func(args)
    except RolebotError as exc:
        print(f"rolebot: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
