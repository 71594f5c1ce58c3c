#!/usr/bin/env python3
"""Extract the VSD v6 entities Overcast serves from the full vspk model dump.

The full dump (``shared/reference/vsd-model-v6.json``, 2.8 MB, 312 entities) is read-only
reference material outside the repository; the directory only needs the entities it serves,
so this script writes a trimmed copy into the package. Run it again when the supported set grows:

    python scripts/extract_vsd_model.py ../shared/reference/vsd-model-v6.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SUPPORTED = """me enterprise user domaintemplate zonetemplate subnettemplate policygrouptemplate
ingressacltemplate egressacltemplate ingressaclentrytemplate egressaclentrytemplate domain zone
subnet vport policygroup enterprisenetwork networkmacrogroup container containerinterface vm
vminterface sharednetworkresource floatingip l2domaintemplate l2domain vrs enterprisepermission
gateway job statisticspolicy""".split()

OUT = Path(__file__).resolve().parent.parent / "src/overcast/directory/vsd_model_v6.json"


def main(source: str) -> None:
    full = json.loads(Path(source).read_text())
    trimmed = {}
    for rest_name in SUPPORTED:
        entity = full[rest_name]
        trimmed[rest_name] = {
            "resource_name": entity["resource_name"],
            "attrs": {
                name: {"type": a["type"], "choices": a["choices"]}
                for name, a in sorted(entity["attrs"].items())
            },
            "children": {
                child: c["relationship"]
                for child, c in sorted(entity["children"].items())
                if child in SUPPORTED
            },
        }
    OUT.write_text(json.dumps(trimmed, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({len(trimmed)} entities)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/vsd-model-v6.json")
