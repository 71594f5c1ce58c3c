#!/bin/sh
# Regenerate the Python code for proto/ (committed, so installs need no protoc).
# Needs grpcio-tools: .venv/bin/pip install -e '.[dev]'
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m grpc_tools.protoc -Iproto --python_out=src --pyi_out=src --grpc_python_out=src \
    proto/overcast/protocol/controller.proto
# GoBGP's API (3.10, from Debian's golang-github-osrg-gobgp-dev, imports re-rooted under
# overcast/gateway/gobgp/ so that the generated modules import each other by package).
"$PY" -m grpc_tools.protoc -Iproto --python_out=src --pyi_out=src --grpc_python_out=src \
    proto/overcast/gateway/gobgp/gobgp.proto proto/overcast/gateway/gobgp/attribute.proto \
    proto/overcast/gateway/gobgp/capability.proto
echo "generated src/overcast/protocol/controller_pb2*.py, src/overcast/gateway/gobgp/*_pb2*.py"
