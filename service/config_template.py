"""The commented config.toml that `memsync init` writes: every setting, with its default."""

DEFAULT_CONFIG = """\
# memsync settings for this store. Environment variables (MEMSYNC_*) override them.
# batch_size = 64
# collection = "memsync"         # collection name prefix (one collection per encoder)

[model]
# name = "all-MiniLM-L6-v2"      # or a local sentence-transformers folder; never downloaded
# backend = "auto"               # auto: ONNX Runtime (fast start), torch if no graph; onnx; torch
# cache_dir = ""                 # exported ONNX graphs (default: inside the environment)

[qdrant]
# url = "http://127.0.0.1:6333"  # a Qdrant server; unset = embedded under .memsync/qdrant-edge
# mode = "edge"                  # embedded: "edge" (default), "local" (qdrant-client, under
#                                # .memsync/qdrant), "memory" (nothing kept)

[retry]
# max_attempts = 5
# base_delay_s = 60

[dedup]                          # the duplicate judge of add, capture and maintain
# update_threshold = 0.78        # judge score (substance cosine + key-term agreement): merge
# noop_threshold = 0.92          # substance cosine at which a candidate adding nothing is dropped
# uncertain_band = 0.08          # scores this close to update_threshold go to the LM, if set

[service]
# host = "127.0.0.1"             # any other address requires MEMSYNC_API_TOKEN
# port = 8765
# sync_interval_min = 10         # background sync while `memsync serve` runs; 0 = off

[sources]
# agents = ["claude", "codex", "cursor", "opencode", "openclaw"]
# claude = ["~/.claude/projects"]  # override where an agent keeps its sessions
# insights = "insights.json"     # relative to the project (the folder holding .memsync)
# campaigns = "campaigns"
# window = "30d"                 # `memsync sync` captures sessions changed within it
# projects = "auto"              # auto: this project's sessions (git worktrees included);
#                                # ~/.memsync (the global store) every project; or "this"/"all"

[digest]
# budget = 6000                  # tokens of a session digest (memsync digest, LM extraction)

[maintain]
# duplicate_threshold = 0.78     # judge score at which same-kind memories merge (best one kept)
# decay_period_days = 180        # effective = max(confidence * (1 - idle_days / 180), floor)
# confidence_floor = 0.1
# archive_threshold = 0.2        # below it a memory is archived (never deleted) ...
# grace_period_days = 30         # ... unless created or read within this many days
# interval_min = 60              # the service runs maintain this often; 0 = off

[audit]
# near_threshold = 0.92          # same-kind memories this similar count as near-duplicates
# min_words = 8                  # shorter bodies count as low-information
# min_summary_words = 25         # summaries / daily logs with less recap count as noise
# max_exact_duplicate_rate = 0.05  # limits: above any of them `memsync audit` exits 5
# max_near_duplicate_rate = 0.10
# max_low_information = 10
# max_noise_rate = 0.2           # raw-error titles, restated titles, no fix, no reason, ...
# max_secrets = 0
# max_index_drift = 0
# max_dead_letters = 0
# max_stale_rate = 0.5
# max_unreadable = 0

[ask]
# min_score = 0.35               # results scoring below it are withheld ("no strong match")
# kind_weights = {summary = 0.85}  # a session summary outranks a decision only
#                                # when it answers clearly better

[kinds]
# custom = ["runbook"]           # kinds beyond decision, learning, convention, insight, summary,
#                                # daily, note (each gets its folder: memory/runbooks/)

[hooks]
# brief_tokens = 1500            # the brief an agent gets at session start (memsync hook)
# prompt_tokens = 800            # memories recalled for a prompt, when any is relevant
# prompt_k = 5

[daily]
# timezone = "Europe/Paris"      # days of memory/daily/YYYY-MM-DD.md (default: the system's)

[llm]
# model = "openai/gpt-4o-mini"   # DSPy extraction and answers; unset = offline extraction
#                                # "cli:claude" / "cli:codex": the coding agent's own CLI
# api_base = "http://127.0.0.1:8080/v1"  # any OpenAI-compatible server (Ollama, llama.cpp, ...)
# api_key_env = "OPENAI_API_KEY"
# timeout_s = 60                 # per call; the cli:* models get 300 unless this is set
# command = "/usr/local/bin/claude"  # the CLI for cli:claude / cli:codex (default: on PATH)
"""
