#!/bin/sh
# Prints a greeting and counts the files in this project: a few harmless execs for the gate to see.
set -eu
echo "hello from $(basename "$(pwd)")"
echo "files: $(ls | wc -l)"
