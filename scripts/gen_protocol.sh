#!/bin/sh
# Regenerate the Python code for proto/ (committed, so installs need no protoc).
# Needs grpcio-tools: .venv/bin/pip install -e '.[dev]'
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m grpc_tools.protoc -Iproto --python_out=src --pyi_out=src --grpc_python_out=src \
    proto/overcast/protocol/controller.proto
echo "generated src/overcast/protocol/controller_pb2*.py"
