// JesterBench: Jester's call paths against WasmKit's, measured in one process.
//
//   swift run -c release --package-path Benchmarks JesterBench [--json FILE] [--quick]
//       [--samples N] [--sample-ms MS] [--only GROUP,...] [--memory-count N]
//   JesterBench --profile PATH CALLS     a bare loop of CALLS calls on one path, for callgrind
//   JesterBench --serve-gateway CONFIG  a gateway serving CONFIG, for gateway/callgrind.py
//   JesterBench --memory-child ENGINE GUEST N   one memory measurement (run by the parent)

runBlocking()
