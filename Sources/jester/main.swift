import JesterCLI

await JesterCommand.runFromCommandLine()
