from moodtune.cli import run

run()
