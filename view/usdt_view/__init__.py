"""usdt_view - `usdt top` and `usdt heatmap`: live views of a process's USDT
probes, with bpftrace as the only engine (its -f json output is the data).

discover  the process's probes, from `usdt list --json PID`, and the pairs
          found among them by name
program   the bpftrace program built from them (only here: no program ever
          comes from a user's page or request)
split     the probes shared between bpftrace programs (libbpf: 256 a program)
tracer    runs bpftrace, reads its JSON lines, one Snapshot per interval;
          several programs side by side, merged
stats     log buckets and percentiles
top       the terminal, plain and JSON views
heatmap   the heat map: a served page, an SVG and a static HTML snapshot
"""
