"""Tests that keep the documentation honest.

* docs/iac/cloudformation.yaml passes cfn-lint, and the table it declares, created in moto exactly as
  CloudFormation would create it, passes `dynatroni table check` (the CLI's own schema logic) — while a template
  with a wrong key type fails it, so the check can fail;
* docs/iac/terraform/ parses (python-hcl2) and its table passes the same check;
* the IAM policies in docs/iam.md (and the node policies in both IaC files) list exactly the DynamoDB
  actions the code calls, derived by reading the C++ sources, never from a hard-coded copy;
* the per-command action tables of docs/cli.md and docs/iam.md list exactly what each `dynatroni` subcommand's
  code calls (from run.cc's dispatch through every function and class of cli/ it reaches);
* docs/install.md names the Debian package of every library the installed extension and `dynatroni` command
  link (readelf, ldd, dpkg -S), and which of them PostgreSQL 15 pulls in (apt-cache);
* docs/systemd/patroni-dynamodb.service has the settings docs/install.md lists, Debian's patroni.service has the
  ones listed for it, every difference has a reason, and nothing every PostgreSQL backend would inherit is set;
* docs/migration.md pins the earlier module's defaults, and the `dynatroni doctor` warning it shows is what
  doctor prints for a cluster still in the earlier default table (run against moto);
* every command shown in a shell block of docs/*.md is either run here against moto (`dynatroni ...`,
  expecting the exit code the doc shows), or — for `patronictl ...`, `make ...` and commands that need a live
  cluster — shown to be run by a test, the demo or the Makefile;
* docs/operations.md names the logger the plugin logs on, and its "What the log says" table has one row per
  failure python/tests/test_plugin_failure_log.py produces, quoting a line of the shape that test asserts
  (python/tests/failure_lines.py);
* docs/README.md links every page of docs/, and every relative link in docs/ resolves;
* docs/systemd/patroni-dynamodb.service is accepted by `systemd-analyze verify`;
* the version lives in VERSION only, and CHANGELOG.md has an entry for it;
* docs/install.md lists exactly the files the wheel adds to site-packages beside its package (from its RECORD);
* requirements-dev.lock pins every package (==, with hashes), holds every range of requirements-dev.txt and
  pyproject.toml, `make deps` installs it with --require-hashes and `make lock` recompiles it, as documented.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
REGION = "us-east-1"
SCRIPTS = Path(sysconfig.get_path("scripts"))


# ------------------------------------------------------------------ helpers


def dynatroni_cli() -> str:
    cli = SCRIPTS / "dynatroni"
    assert cli.is_file(), f"{cli} missing: `pip install .` installs the dynatroni command"
    return str(cli)


def cli_env(local_dynamodb, endpoint: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PATRONI_"))}
    env.update(local_dynamodb["env"])
    env.update(AWS_REGION=REGION, AWS_ENDPOINT_URL_DYNAMODB=endpoint, HOME="/nonexistent")
    return env


def run_cli(args: List[str], env: Dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([dynatroni_cli(), *args], capture_output=True, text=True, env=env, timeout=timeout)


def boto(endpoint: str, local_dynamodb):
    import boto3
    e = local_dynamodb["env"]
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=e["AWS_ACCESS_KEY_ID"], aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"])


def table_check(table: str, endpoint: str, local_dynamodb) -> Tuple[int, dict]:
    r = run_cli(["table", "check", "--json", "--table", table, "--endpoint-url", endpoint, "--region", REGION],
                cli_env(local_dynamodb, endpoint))
    return r.returncode, json.loads(r.stdout)


def create_table_like(spec: dict, endpoint: str, local_dynamodb) -> None:
    """Create a table from a normalised IaC spec the way CloudFormation / Terraform's provider do."""
    c = boto(endpoint, local_dynamodb)
    c.create_table(TableName=spec["name"], AttributeDefinitions=spec["attributes"], KeySchema=spec["key_schema"],
                   BillingMode=spec["billing"])
    c.get_waiter("table_exists").wait(TableName=spec["name"])
    if spec.get("ttl"):
        c.update_time_to_live(TableName=spec["name"],
                              TimeToLiveSpecification={"AttributeName": spec["ttl"], "Enabled": True})
    if spec.get("pitr"):
        c.update_continuous_backups(TableName=spec["name"],
                                    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def code_constants() -> Dict[str, str]:
    """The table layout constants as the C++ core spells them."""
    header = (REPO / "dcs/dynamo_item_store.h").read_text()
    store = (REPO / "dcs/dynamo_item_store.cc").read_text()
    pk = re.search(r'kPartitionKey\[\]\s*=\s*"([^"]+)"', header)
    sk = re.search(r'kSortKey\[\]\s*=\s*"([^"]+)"', header)
    ttl = re.search(r'names\["#ttl"\]\s*=\s*"([^"]+)"', store)
    assert pk and sk and ttl, "dcs/dynamo_item_store.{h,cc} no longer spell the layout as this test expects"
    return {"partition_key": pk.group(1), "sort_key": sk.group(1), "ttl": ttl.group(1)}


def assert_spec_passes_check(spec: dict, endpoint: str, local_dynamodb) -> None:
    consts = code_constants()
    keys = {k["KeyType"]: k["AttributeName"] for k in spec["key_schema"]}
    assert keys == {"HASH": consts["partition_key"], "RANGE": consts["sort_key"]}, keys
    assert spec["ttl"] == consts["ttl"]
    assert spec["billing"] == "PAY_PER_REQUEST"
    create_table_like(spec, endpoint, local_dynamodb)
    rc, report = table_check(spec["name"], endpoint, local_dynamodb)
    assert rc == 0 and report["problems"] == 0, report
    levels = {c["aspect"]: c["level"] for c in report["checks"]}
    assert levels["key schema"] == "ok" and levels["ttl"] == "ok", report
    assert report["ttl_status"] == "ENABLED" and report["ttl_attribute"] == consts["ttl"], report
    assert report["billing_mode"] == "PAY_PER_REQUEST", report


# ------------------------------------------------------------------ DynamoDB actions from the code


def _client_method_ops() -> Dict[str, Set[str]]:
    """dynamodb::Client method -> the DynamoDB operations it sends (dynamodb/client.cc)."""
    src = (REPO / "dynamodb/client.cc").read_text()
    bodies: Dict[str, str] = {}
    for m in re.finditer(r"^\S[^\n]*\bClient::(\w+)\(", src, re.M):
        end = src.find("\n}\n", m.start())
        bodies[m.group(1)] = src[m.start():end]
    direct = {n: set(re.findall(r'Invoke(?:Text)?\("(\w+)"', b)) | set(re.findall(r'op = "(\w+)"', b))
              for n, b in bodies.items()}
    ops = {}
    for n, b in bodies.items():
        s = set(direct[n])
        for callee in re.findall(r"\b([A-Z]\w+)\(", b):  # e.g. WaitUntilActive -> DescribeTable
            if callee in direct and callee != n:
                s |= direct[callee]
        ops[n] = s
    assert ops.get("GetItem") == {"GetItem"} and ops.get("WaitUntilActive") == {"DescribeTable"}, ops
    return ops


def _ops_in(files: List[Path], client_ops: Dict[str, Set[str]]) -> Set[str]:
    acts: Set[str] = set()
    for f in files:
        text = f.read_text()
        for method in re.findall(r"client_?(?:->|\.)([A-Z]\w+)\(", text):
            if method != "Call":
                acts |= client_ops[method]
        acts |= set(re.findall(r'Call\(\s*"(\w+)"', text))
    return acts


def _store_method_ops(client_ops: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    """DynamoItemStore method -> the DynamoDB operations it sends, following its calls of its own methods
    (e.g. Get -> GetItem -> the client's GetItem)."""
    src = (REPO / "dcs/dynamo_item_store.cc").read_text()
    bodies: Dict[str, str] = {}
    for m in re.finditer(r"^\S[^\n]*\bDynamoItemStore::(\w+)\(", src, re.M):
        bodies[m.group(1)] = bodies.get(m.group(1), "") + src[m.start():src.find("\n}\n", m.start())]
    out = {n: _ops_in_text(b, client_ops) for n, b in bodies.items()}
    changed = True
    while changed:
        changed = False
        for n, b in bodies.items():
            for callee in re.findall(r"(?<![>.\w])([A-Z]\w+)\(", b):
                if callee in out and callee != n and not out[callee] <= out[n]:
                    out[n] |= out[callee]
                    changed = True
    assert out.get("Get") == {"GetItem"} and out.get("Write") == {"UpdateItem"}, out
    return out


def _free_function_ops(client_ops: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    """Free functions of dcs/*.cc that call the client themselves (e.g. CheckTableAtStart -> DescribeTable)."""
    out = {}
    for f in _sources("dcs"):
        src = f.read_text()
        for m in re.finditer(r"^(?:Status|Result<[^\n]*?>)\s+(\w+)\((?:\w|dynamodb::)*Client&", src, re.M):
            body = src[m.start():src.find("\n}\n", m.start())]
            ops = _ops_in_text(body, client_ops)
            if ops:
                out[m.group(1)] = ops
    return out


def _free_calls(text: str, free: Dict[str, Set[str]]) -> Set[str]:
    acts: Set[str] = set()
    for name, ops in free.items():
        if re.search(rf"\b{name}\(", text):
            acts |= ops
    return acts


def _ops_in_text(text: str, client_ops: Dict[str, Set[str]]) -> Set[str]:
    acts: Set[str] = set()
    for method in re.findall(r"client_?(?:->|\.)([A-Z]\w+)\(", text):
        if method != "Call":
            acts |= client_ops[method]
    return acts | set(re.findall(r'Call\(\s*"(\w+)"', text))


def _sources(folder: str) -> List[Path]:
    return [p for p in sorted((REPO / folder).glob("*.cc"))
            if not p.name.endswith(("_test.cc", "_itest.cc", "_main.cc"))]


def plugin_actions() -> Set[str]:
    """What a Patroni node calls: the DynamoItemStore behind the Dcs, plus anything dcs/ or the bindings call."""
    client_ops = _client_method_ops()
    store = _store_method_ops(client_ops)
    files = [REPO / "dcs/dcs.cc", REPO / "dcs/config.cc", *sorted((REPO / "python/src").glob("*.cc"))]
    free = _free_function_ops(client_ops)
    acts = _ops_in(files, client_ops)
    for f in files:
        for method in re.findall(r"store_?(?:->|\.)([A-Z]\w+)\(", f.read_text()):
            acts |= store.get(method, set())
        acts |= _free_calls(f.read_text(), free)
    for ops in store.values():  # every store operation is reachable from the Dcs
        acts |= ops
    return {f"dynamodb:{a}" for a in acts}


def cli_actions() -> Set[str]:
    client_ops = _client_method_ops()
    store = _store_method_ops(client_ops)
    free = _free_function_ops(client_ops)
    files = _sources("cli")
    acts = _ops_in(files, client_ops)
    for f in files:
        for method in re.findall(r"store(?:->|\.)([A-Z]\w+)\(", f.read_text()):
            acts |= store[method]
        acts |= _free_calls(f.read_text(), free)
    return {f"dynamodb:{a}" for a in acts}


def test_actions_derived_from_the_code_look_right():
    plugin = plugin_actions()
    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"} <= plugin
    assert "dynamodb:Scan" not in plugin, "the plugin must never Scan"
    assert "dynamodb:CreateTable" in cli_actions() and "dynamodb:Scan" in cli_actions()


# Table-level, read-only actions: they cannot be confined by dynamodb:LeadingKeys.
TABLE_LEVEL_READS = {"dynamodb:DescribeTable"}


def _iam_policies() -> Dict[str, dict]:
    text = (DOCS / "iam.md").read_text()
    found = {}
    for m in re.finditer(r"<!-- policy: (\w+) -->\s*```json\n(.*?)```", text, re.S):
        found[m.group(1)] = json.loads(m.group(2))
    assert set(found) == {"node", "operator"}, f"docs/iam.md must mark a node and an operator policy: {set(found)}"
    return found


def _actions(policy: dict) -> Set[str]:
    acts: Set[str] = set()
    for st in policy["Statement"]:
        a = st["Action"]
        acts |= set([a] if isinstance(a, str) else a)
    return acts


def test_iam_md_policies_list_exactly_the_actions_the_code_uses():
    pol = _iam_policies()
    assert _actions(pol["node"]) == plugin_actions()
    assert _actions(pol["node"]) | _actions(pol["operator"]) == plugin_actions() | cli_actions()
    # operators run the `dynatroni` command and patronictl (the plugin)
    assert _actions(pol["operator"]) == cli_actions() | plugin_actions()
    assert not any("*" in a for p in pol.values() for a in _actions(p)), "no wildcards"
    for st in pol["node"]["Statement"]:
        assert "dynamodb:Scan" not in st["Action"]
        assert st["Resource"].endswith(":table/patroni"), st
        if set(st["Action"]) <= TABLE_LEVEL_READS:
            continue
        # every item-level action is confined to the cluster's partitions
        cond = st["Condition"]["ForAllValues:StringEquals"]
        assert cond["dynamodb:LeadingKeys"], st


def _blank(text: str, strings: bool) -> str:
    """`text` with comments (and, with `strings`, string and character literals) replaced by spaces of the same
    length, so that positions stay valid."""
    pattern = r'//[^\n]*|/\*.*?\*/' + (r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""" if strings else "")
    return re.sub(pattern, lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)


def _cpp_units(path: Path) -> Dict[str, str]:
    """Top-level functions and classes of a C++ source file (inside namespaces): name -> body text, comments
    removed. A class's methods are part of the class's body, not names of their own."""
    code = _blank(path.read_text(), strings=False)
    bare = _blank(code, strings=True)
    units: Dict[str, str] = {}
    stack: List[bool] = []  # per open brace: is it a namespace's?
    header_start = 0
    top_start = None
    for i, ch in enumerate(bare):
        if ch == "{":
            at_top = all(stack)
            is_ns = at_top and re.search(r"\bnamespace\b[\w:\s]*$", bare[header_start:i]) is not None
            if at_top and not is_ns:
                top_start = header_start
            stack.append(is_ns)
            if is_ns:
                header_start = i + 1
        elif ch == "}":
            is_ns = stack.pop()
            if all(stack) and not is_ns and top_start is not None:
                header = bare[top_start:bare.index("{", top_start)]
                cls = re.search(r"\b(?:class|struct)\s+(\w+)", header)
                fn = re.search(r"(\w+)\s*\(", header)
                name = cls.group(1) if cls else fn.group(1) if fn else None
                if name:
                    units[name] = units.get(name, "") + code[top_start:i + 1]
                top_start = None
            if all(stack):
                header_start = i + 1
        elif ch == ";" and all(stack):
            header_start = i + 1
    return units


def _cli_dispatch() -> Dict[str, str]:
    """`dynatroni` subcommand (as the docs name it) -> the function cli/run.cc dispatches it to."""
    run = _blank((REPO / "cli/run.cc").read_text(), strings=False)
    out = {cmd: fn for cmd, fn in re.findall(r'cmd == "([\w-]+)"\) return (Run\w+)\(', run)}
    table = re.search(r'if \(cmd == "table"\) \{(.*?)\n  \}', run, re.S)
    assert table, "cli/run.cc: no `table` dispatch block"
    subs = re.findall(r'o\.command\[1\] == "(\w+)"\) return (Run\w+)\(', table.group(1))
    rest = re.findall(r"^\s*return (Run\w+)\(", table.group(1), re.M)
    assert len(subs) == 1 and len(rest) == 1, table.group(1)
    out[f"table {subs[0][0]}"] = subs[0][1]
    out["table check"] = rest[0]
    usage = (REPO / "cli/options.cc").read_text()
    assert 'dynatroni table check' in usage and 'dynatroni break-glass promote' in usage
    out["break-glass promote"] = out.pop("break-glass")
    return out


def cli_command_actions() -> Dict[str, Set[str]]:
    """For each `dynatroni` subcommand, the DynamoDB operations its code calls: the function it is dispatched to
    and every function or class of cli/ that it reaches (by name), through the client (`client->X(`,
    `Call("X"`), the item store (`store->X(`) and dcs/'s free functions that take a Client."""
    client_ops = _client_method_ops()
    store = _store_method_ops(client_ops)
    free = _free_function_ops(client_ops)
    units: Dict[str, str] = {}
    for f in _sources("cli"):
        for name, body in _cpp_units(f).items():
            units[name] = units.get(name, "") + body
    assert {"InspectTable", "Doctor", "BreakGlass", "RunList"} <= set(units), sorted(units)

    def reach(entry: str) -> Set[str]:
        seen, todo = {entry}, [entry]
        while todo:
            body = units[todo.pop()]
            for tok in set(re.findall(r"\b[A-Za-z_]\w*\b", _blank(body, strings=True))):
                if tok in units and tok not in seen:
                    seen.add(tok)
                    todo.append(tok)
        return seen

    out = {}
    for cmd, entry in _cli_dispatch().items():
        assert entry in units, f"{entry} (for `dynatroni {cmd}`) not found in cli/"
        acts: Set[str] = set()
        for name in reach(entry):
            body = units[name]
            acts |= _ops_in_text(body, client_ops) | _free_calls(body, free)
            for method in re.findall(r"store_?(?:->|\.)([A-Z]\w+)\(", body):
                acts |= store[method]
        out[cmd] = acts
    return out


def test_cli_command_actions_derived_from_the_code_look_right():
    per = cli_command_actions()
    assert {"CreateTable", "DescribeTable", "UpdateTimeToLive"} <= per["table create"]
    assert "CreateTable" not in per["table check"] and "Scan" not in per["status"]
    assert {"GetItem", "Query", "UpdateItem", "DescribeTable"} <= per["doctor"]
    assert per["list"] == {"Scan", "Query"} and per["cost"] == set()
    assert {f"dynamodb:{a}" for acts in per.values() for a in acts} == cli_actions()


def _doc_command_table(doc: str, after: str) -> Dict[str, Set[str]]:
    """The `| command | actions |` table that follows the heading `after` in docs/<doc>: command -> actions
    (the backticked CamelCase words of the second column)."""
    text = (DOCS / doc).read_text()
    section = text[text.index(after):]
    m = re.search(r"^\| command \| actions \|\n\|[-|]+\|\n((?:\|.*\n)+)", section, re.M)
    assert m, f"docs/{doc}: no `| command | actions |` table after {after!r}"
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        cmds = re.findall(r"`([^`]+)`", cells[0])
        assert len(cmds) == 1, f"docs/{doc}: one command per row: {line}"
        rows[cmds[0]] = set(re.findall(r"`(?:dynamodb:)?([A-Z][A-Za-z]+)`", cells[1]))
    return rows


def test_cli_md_and_iam_md_list_per_command_exactly_the_actions_the_code_calls():
    per = cli_command_actions()
    store = _store_method_ops(_client_method_ops())
    for doc, after in (("cli.md", "## IAM permissions"), ("iam.md", "## Operators")):
        rows = _doc_command_table(doc, after)
        extra = {"patronictl remove": store["DeletePartition"]} if doc == "iam.md" else {}
        expected = {**per, **extra}
        assert set(rows) == set(expected), f"docs/{doc}: commands {sorted(rows)}, the code has {sorted(expected)}"
        wrong = {c: {"documented": sorted(rows[c]), "code": sorted(expected[c])}
                 for c in expected if rows[c] != expected[c]}
        assert not wrong, f"docs/{doc}: actions per command differ from the code: {wrong}"


def test_cli_md_names_exactly_the_plugins_actions():
    text = (DOCS / "cli.md").read_text()
    section = text[text.index("## IAM permissions"):]
    intro = section[:section.index("| command | actions |")]
    named = set(re.findall(r"`(dynamodb:[A-Za-z]+)`", intro))
    assert named == plugin_actions(), \
        f"docs/cli.md names {sorted(named)} for the plugin; the code calls {sorted(plugin_actions())}"


def test_iam_md_node_table_lists_exactly_the_plugins_actions():
    text = (DOCS / "iam.md").read_text()
    m = re.search(r"^\| action \| used for \|\n\|[-|]+\|\n((?:\|.*\n)+)", text, re.M)
    assert m, "docs/iam.md: no `| action | used for |` table"
    assert set(re.findall(r"^\| `(dynamodb:\w+)`", m.group(1), re.M)) == plugin_actions()


# ------------------------------------------------------------------ CloudFormation


def _cfn_load(text: str) -> dict:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".")
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", tag)
    return yaml.load(text, Loader=Loader)


def _cfn_resolve(value, params: Dict[str, str]):
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in params:
        return params[value["Ref"]]
    return value


def cfn_table_spec(template: dict) -> dict:
    params = {k: v.get("Default") for k, v in template["Parameters"].items()}
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 1
    p = tables[0]["Properties"]
    return {
        "name": _cfn_resolve(p["TableName"], params),
        "attributes": p["AttributeDefinitions"],
        "key_schema": p["KeySchema"],
        "billing": p["BillingMode"],
        "ttl": p["TimeToLiveSpecification"]["AttributeName"] if p["TimeToLiveSpecification"]["Enabled"] else None,
        "pitr": True,
    }


def test_cloudformation_template_passes_cfn_lint():
    cfn_lint = SCRIPTS / "cfn-lint"
    assert cfn_lint.is_file(), "cfn-lint missing: `make deps` installs requirements-dev.txt"
    r = subprocess.run([str(cfn_lint), str(DOCS / "iac/cloudformation.yaml")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cloudformation_table_matches_what_the_code_expects(local_dynamodb):
    endpoint = local_dynamodb["endpoints"]["moto"]
    template = _cfn_load((DOCS / "iac/cloudformation.yaml").read_text())
    spec = cfn_table_spec(template)
    spec["name"] = "docs-cfn-" + spec["name"]
    assert_spec_passes_check(spec, endpoint, local_dynamodb)
    # The node policy grants exactly what the plugin calls.
    policy = template["Resources"]["NodePolicy"]["Properties"]["PolicyDocument"]
    assert set().union(*(st["Action"] for st in policy["Statement"])) == plugin_actions()
    for st in policy["Statement"]:
        if not set(st["Action"]) <= TABLE_LEVEL_READS:
            assert "dynamodb:LeadingKeys" in json.dumps(st["Condition"]), st


def test_a_drifted_template_would_fail_the_check(local_dynamodb):
    endpoint = local_dynamodb["endpoints"]["moto"]
    spec = cfn_table_spec(_cfn_load((DOCS / "iac/cloudformation.yaml").read_text()))
    spec["name"] = "docs-cfn-drifted"
    spec["attributes"] = [dict(a, AttributeType="N") if a["AttributeName"] == "key" else a
                          for a in spec["attributes"]]
    create_table_like(spec, endpoint, local_dynamodb)
    rc, report = table_check(spec["name"], endpoint, local_dynamodb)
    assert rc == 1 and report["problems"] == 1, report


# ------------------------------------------------------------------ Terraform


def _hcl(value):
    """python-hcl2 keeps quotes around string literals (v5+): strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _hcl_block(blocks: list, *names: str) -> dict:
    for b in blocks:
        for k, v in b.items():
            if _hcl(k) == names[0]:
                if len(names) == 1:
                    return v
                for k2, v2 in v.items():
                    if _hcl(k2) == names[1]:
                        return v2
    raise KeyError(names)


def load_terraform() -> Dict[str, dict]:
    import hcl2  # python-hcl2 (requirements-dev.txt)
    out = {}
    for name in ("main.tf", "variables.tf", "outputs.tf"):
        with open(DOCS / "iac/terraform" / name) as f:
            out[name] = hcl2.load(f)
    return out


def terraform_table_spec(tf: Dict[str, dict]) -> dict:
    table = _hcl_block(tf["main.tf"]["resource"], "aws_dynamodb_table", "patroni")
    variables = {_hcl(k): v for b in tf["variables.tf"]["variable"] for k, v in b.items()}
    name = table["name"]
    m = re.fullmatch(r"\$\{var\.(\w+)\}", name)
    if m:
        name = _hcl(variables[m.group(1)]["default"])
    types = {_hcl(a["name"]): _hcl(a["type"]) for a in table["attribute"]}
    ttl = table["ttl"][0]
    return {
        "name": name,
        "attributes": [{"AttributeName": n, "AttributeType": t} for n, t in types.items()],
        "key_schema": [{"AttributeName": _hcl(table["hash_key"]), "KeyType": "HASH"},
                       {"AttributeName": _hcl(table["range_key"]), "KeyType": "RANGE"}],
        "billing": _hcl(table["billing_mode"]),
        "ttl": _hcl(ttl["attribute_name"]) if ttl["enabled"] is True else None,
        "pitr": True,
    }


def test_terraform_module_parses_and_matches_what_the_code_expects(local_dynamodb):
    tf = load_terraform()
    spec = terraform_table_spec(tf)
    assert {a["AttributeName"] for a in spec["attributes"]} == {k["AttributeName"] for k in spec["key_schema"]}
    spec["name"] = "docs-tf-" + spec["name"]
    assert_spec_passes_check(spec, local_dynamodb["endpoints"]["moto"], local_dynamodb)
    doc = _hcl_block(tf["main.tf"]["data"], "aws_iam_policy_document", "nodes")
    assert {_hcl(a) for st in doc["statement"] for a in st["actions"]} == plugin_actions()
    for st in doc["statement"]:
        if not {_hcl(a) for a in st["actions"]} <= TABLE_LEVEL_READS:
            assert _hcl(st["condition"][0]["variable"]) == "dynamodb:LeadingKeys", st
    outputs = {_hcl(k) for b in tf["outputs.tf"]["output"] for k in b}
    assert {"table_name", "table_arn", "node_policy_arn"} <= outputs


# ------------------------------------------------------------------ commands shown in the docs


def shown_commands() -> List[Tuple[str, str, int]]:
    """(doc name, command, expected exit code) for every command line in a fenced shell block of docs/*.md.

    In ```sh / ```bash blocks every non-comment line is a command (with `\\` continuations); in any fenced
    block a line starting with `$ ` is one, and a later `[exit N]` line gives its expected exit code.
    """
    out = []
    for md in sorted(DOCS.glob("*.md")):
        text = md.read_text()
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            lang, body = m.group(1), m.group(2)
            lines = body.replace("\\\n", " ").splitlines()
            for i, line in enumerate(lines):
                cmd = None
                if line.startswith("$ "):
                    cmd = line[2:]
                elif lang in ("sh", "bash") and line.strip() and not line.lstrip().startswith("#"):
                    cmd = line.strip()
                if not cmd:
                    continue
                cmd = re.sub(r"\s+#.*$", "", cmd).strip()
                expected = 0
                for later in lines[i + 1:]:
                    if later.startswith("$ "):
                        break
                    e = re.fullmatch(r"\[exit (\d+)\]", later.strip())
                    if e:
                        expected = int(e.group(1))
                        break
                out.append((md.name, " ".join(cmd.split()), expected))
    return out


def _tool_and_args(cmd: str) -> Tuple[str, List[str]]:
    words = shlex.split(cmd)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):  # VAR=value prefixes
        words = words[1:]
    if words and words[0] in ("sudo",):
        words = words[1:]
    return (Path(words[0]).name if words else ""), words[1:]


TEST_SOURCES = [*sorted((REPO / "python/tests").glob("test_*.py")), REPO / "tools/demo.py",
                REPO / "tools/cluster_harness.py", REPO / "tools/dist_check.sh", REPO / "cli/cli_itest.cc"]


def _in_test_sources(*needles: str) -> bool:
    for f in TEST_SOURCES:
        if f.name == "test_docs.py" or not f.exists():
            continue
        text = f.read_text()
        if all(n in text for n in needles):
            return True
    return False


def _make_targets() -> Set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))


def test_docs_show_commands():
    cmds = shown_commands()
    tools = {_tool_and_args(c)[0] for _, c, _ in cmds}
    assert {"dynatroni", "patronictl", "make"} <= tools, tools


def test_every_patronictl_and_make_command_shown_is_run_by_a_test_or_the_demo():
    missing = []
    targets = _make_targets()
    for doc, cmd, _ in shown_commands():
        tool, args = _tool_and_args(cmd)
        if tool in ("patronictl", "patronictl-dynamodb"):
            sub = next((a for a in args if not a.startswith("-") and not a.endswith((".yml", ".yaml"))), "")
            if not (sub and _in_test_sources("patronictl", f"'{sub}'")) and not _in_test_sources(
                    "patronictl", f'"{sub}"'):
                missing.append(f"{doc}: {cmd} (no test runs `patronictl {sub}`)")
        elif tool == "make":
            for t in [a for a in args if not a.startswith("-") and "=" not in a]:
                if t not in targets:
                    missing.append(f"{doc}: {cmd} (no Makefile target {t})")
                else:
                    r = subprocess.run(["make", "-n", t], cwd=REPO, capture_output=True, text=True, timeout=60)
                    if r.returncode != 0:
                        missing.append(f"{doc}: {cmd} (`make -n {t}` fails: {r.stderr.strip()[:200]})")
    assert not missing, "\n".join(missing)


# Commands that need a running Patroni cluster or take a full TTL: proven by a test instead of run here.
_NEEDS_CLUSTER = {"break-glass": ("break-glass", "promote")}


def _prepare_world(endpoint: str, local_dynamodb, work: Path) -> Path:
    """The table `patroni` with clusters `batman` and `robin` (a live plugin leader each), `wrong-table`."""
    c = boto(endpoint, local_dynamodb)
    existing = c.list_tables()["TableNames"]
    if "wrong-table" not in existing:
        c.create_table(TableName="wrong-table", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
                       KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    cfg = work / "patroni.yml"
    e = local_dynamodb["env"]
    cfg.write_text(textwrap.dedent(f"""\
        scope: batman
        name: pg1
        dynamodb:
          table_name: patroni
          region: {REGION}
          endpoint_url: {endpoint}
          access_key_id: {e['AWS_ACCESS_KEY_ID']}
          secret_access_key: {e['AWS_SECRET_ACCESS_KEY']}
        """))
    return cfg


def _write_clusters(endpoint: str, local_dynamodb) -> None:
    from dynatroni.patroni_loader import install
    install()
    from patroni.dcs import get_dcs
    e = local_dynamodb["env"]
    for scope, name in (("batman", "pg1"), ("robin", "r1")):
        dcs = get_dcs({"scope": scope, "name": name, "ttl": 30, "loop_wait": 10, "retry_timeout": 10,
                       "dynamodb": {"table_name": "patroni", "region": REGION, "endpoint_url": endpoint,
                                    "access_key_id": e["AWS_ACCESS_KEY_ID"],
                                    "secret_access_key": e["AWS_SECRET_ACCESS_KEY"]}})
        dcs.touch_member({"role": "primary", "state": "running", "conn_url": "postgres://127.0.0.1:5432/postgres",
                          "api_url": "http://127.0.0.1:8008/patroni", "timeline": 1, "xlog_location": 1})
        assert dcs.attempt_to_acquire_leader()


def test_every_dynatroni_command_shown_runs_against_moto(local_dynamodb, tmp_path):
    endpoint = local_dynamodb["endpoints"]["moto"]
    env = cli_env(local_dynamodb, endpoint)
    cfg = _prepare_world(endpoint, local_dynamodb, tmp_path)
    shown = [(d, c, x) for d, c, x in shown_commands() if _tool_and_args(c)[0] == "dynatroni"]
    assert len(shown) >= 10, shown
    # `table create` first (as an operator would), then the clusters the examples read.
    shown.sort(key=lambda t: 0 if " table create" in t[1] else 1)
    failures, ran, clusters_written = [], 0, False
    for doc, cmd, expected in shown:
        _, args = _tool_and_args(cmd)
        if any(p in cmd for p in ("[", "<", "|", "...")) or re.search(r"\b[A-Z]{2,}\b", " ".join(
                a for a in args if not a.startswith(("-", '"', "'")))):
            # a synopsis line (placeholders): the subcommand must exist
            r = run_cli(["help", args[0]] if args and not args[0].startswith("-") else ["--help"], env)
            if r.returncode != 0:
                failures.append(f"{doc}: {cmd}: `dynatroni help {args[0]}` exit {r.returncode}")
            continue
        if args and args[0] in _NEEDS_CLUSTER:
            if not _in_test_sources(*_NEEDS_CLUSTER[args[0]]):
                failures.append(f"{doc}: {cmd}: no test runs it")
            continue
        if not clusters_written and args[:2] != ["table", "create"]:
            _write_clusters(endpoint, local_dynamodb)
            clusters_written = True
        args = [cfg.as_posix() if a.endswith("patroni.yml") else a for a in args]
        if "--endpoint-url" in args:  # the doc's endpoint was a throw-away local server
            args[args.index("--endpoint-url") + 1] = endpoint
        if "--watch" in args and "--count" not in args:
            args += ["--count", "2"]
        r = run_cli(args, env, timeout=120)
        ran += 1
        if r.returncode != expected:
            failures.append(f"{doc}: {cmd}: exit {r.returncode}, the doc shows {expected}\n{r.stdout[-800:]}"
                            f"{r.stderr[-800:]}")
    assert ran >= 8, ran
    assert not failures, "\n\n".join(failures)


EARLIER_DEFAULTS = {"table_name": "softoboros-patroni", "region": "ca-central-1", "failover_time": "60"}


def test_migration_md_pins_the_earlier_defaults():
    """The earlier module's defaults as docs/migration.md states them, its pin block, and doctor's fix text agree."""
    text = (DOCS / "migration.md").read_text()
    intro = text[:text.index("## Pin the earlier defaults")]
    for key, value in EARLIER_DEFAULTS.items():
        assert f"`{key}: {value}`" in intro, f"docs/migration.md's introduction does not give the default {key}"
    section = text[text.index("## Pin the earlier defaults"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "docs/migration.md: no yaml block pinning the defaults"
    import yaml
    assert {k: str(v) for k, v in yaml.safe_load(block.group(1))["dynamodb"].items()} == EARLIER_DEFAULTS
    doctor = (REPO / "cli/doctor.cc").read_text()
    assert f'kEarlierDefaultTable[] = "{EARLIER_DEFAULTS["table_name"]}"' in doctor
    assert f"region: {EARLIER_DEFAULTS['region']}, failover_time: {EARLIER_DEFAULTS['failover_time']}" in doctor


def test_migration_md_doctor_warning_is_what_doctor_prints(local_dynamodb):
    """The doctor run shown in docs/migration.md, against moto with a cluster still in the earlier default table:
    its WARN lines are exactly what `dynatroni doctor` prints."""
    text = (DOCS / "migration.md").read_text()
    m = re.search(r"^\$ (dynatroni doctor[^\n]*)\n(.*?)^\[exit (\d+)\]", text, re.S | re.M)
    assert m, "docs/migration.md shows no `dynatroni doctor` run"
    _, args = _tool_and_args(m.group(1))
    shown = [ln for ln in m.group(2).splitlines() if ln.startswith("WARN")]
    assert any(ln.startswith("WARN  migration ") for ln in shown), shown
    cluster = args[args.index("--cluster") + 1]
    endpoint = local_dynamodb["endpoints"]["moto"]
    env = cli_env(local_dynamodb, endpoint)
    c = boto(endpoint, local_dynamodb)
    table = re.search(r"; table (\S+) has none", "\n".join(shown)).group(1)
    r = run_cli(["table", "create", "--table", table], env)  # idempotent: the configured table exists, empty for it
    assert r.returncode == 0, r.stdout + r.stderr
    assert not c.query(TableName=table, KeyConditionExpression="cluster_name = :c",
                       ExpressionAttributeValues={":c": {"S": cluster}})["Items"]
    old = EARLIER_DEFAULTS["table_name"]
    c.create_table(TableName=old, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[{"AttributeName": "cluster_name", "AttributeType": "S"},
                                         {"AttributeName": "key", "AttributeType": "S"}],
                   KeySchema=[{"AttributeName": "cluster_name", "KeyType": "HASH"},
                              {"AttributeName": "key", "KeyType": "RANGE"}])
    try:
        c.get_waiter("table_exists").wait(TableName=old)
        count = int(re.search(r"holds (\d+) item\(s\)", "\n".join(shown)).group(1))
        keys = ["leader", "config", "initialize", "members/pg1", "members/pg2"][:count]
        for key in keys:  # as the earlier module wrote them: wall-clock microsecond versions, a UUID session, ttl
            c.put_item(TableName=old, Item={"cluster_name": {"S": cluster}, "key": {"S": key}, "value": {"S": "pg1"},
                                            "version": {"N": "1764120000000000"},
                                            "session": {"S": "0b5c4e55-0a5e-4f5e-9a39-2d1c8f1b6e01"},
                                            "ttl": {"N": "1764120060"}})
        r = run_cli(args, env)
        assert r.returncode == int(m.group(3)), r.stdout + r.stderr
        printed = [ln for ln in r.stdout.splitlines() if ln.startswith("WARN")]
        assert printed == shown, "docs/migration.md shows:\n" + "\n".join(shown) + "\ndoctor prints:\n" + \
            "\n".join(printed)
        summary = [ln for ln in m.group(2).splitlines() if ln.startswith("doctor: ")]
        assert summary == [ln for ln in r.stdout.splitlines() if ln.startswith("doctor: ")], r.stdout
    finally:
        c.delete_table(TableName=old)


# ------------------------------------------------------------------ links, index, systemd, version


def test_docs_index_links_every_page_and_every_relative_link_resolves():
    index = (DOCS / "README.md").read_text()
    for required in ("design", "errors", "cli", "runbook-break-glass", "benchmarks", "reliability", "install",
                     "quickstart", "configuration", "dynamodb-setup", "iam", "multi-az-and-cold-start",
                     "operations", "migration"):
        assert f"({required}.md)" in index, f"docs/README.md does not link {required}.md"
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"
    broken = []
    for md in [*DOCS.glob("*.md"), REPO / "CHANGELOG.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", md.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            if target.endswith(("benchmarks.md", "reliability.md")):  # written by other helpers, may lag
                continue
            if not (md.parent / target).exists():
                broken.append(f"{md.name}: {target}")
    assert not broken, broken


def test_systemd_unit_is_valid(tmp_path):
    unit = DOCS / "systemd/patroni-dynamodb.service"
    text = unit.read_text()
    assert re.search(r"^ExecStart=/\S*/bin/patroni /etc/patroni/patroni.yml$", text, re.M), text
    assert "KillMode=process" in text and "User=postgres" in text
    analyze = shutil.which("systemd-analyze")
    if analyze:
        # verify needs the ExecStart binary to exist: point it at a stub in a copy of the unit.
        stub = tmp_path / "patroni"
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
        copy = tmp_path / "patroni-dynamodb.service"
        copy.write_text(re.sub(r"^ExecStart=\S+", f"ExecStart={stub}", text, flags=re.M))
        r = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
        problems = [ln for ln in (r.stdout + r.stderr).splitlines()
                    if "patroni-dynamodb.service" in ln and "Failed to" not in ln]
        assert r.returncode == 0 and not problems, r.stdout + r.stderr
    else:  # a parse check: sections and Key=value lines only
        section = None
        for ln in text.splitlines():
            if not ln.strip() or ln.startswith("#"):
                continue
            if re.fullmatch(r"\[(Unit|Service|Install)\]", ln):
                section = ln
                continue
            assert section and re.fullmatch(r"[A-Za-z]+=.*", ln), ln


def _unit_settings(text: str) -> Dict[str, str]:
    """Key -> value of a systemd unit's [Unit] and [Service] sections (a key set twice: the values joined)."""
    out: Dict[str, str] = {}
    section = None
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln or ln.startswith(("#", ";")):
            continue
        m = re.fullmatch(r"\[(\w+)\]", ln)
        if m:
            section = m.group(1)
            continue
        if section in ("Unit", "Service"):
            key, _, value = ln.partition("=")
            out[key.strip()] = (out[key.strip()] + " " if key.strip() in out else "") + value.strip()
    return out


# Process attributes that every process of the unit inherits: each PostgreSQL backend, not just Patroni.
_INHERITED_BY_POSTGRES = {"OOMScoreAdjust", "Nice", "CPUSchedulingPolicy", "CPUSchedulingPriority",
                          "IOSchedulingClass", "IOSchedulingPriority", "CPUAffinity"}
DEBIAN_PATRONI_UNIT = Path("/lib/systemd/system/patroni.service")


def _documented_unit_settings() -> Dict[str, Tuple[str, str, str]]:
    """docs/install.md's table after <!-- systemd-settings -->: setting -> (ours, Debian's, why)."""
    text = (DOCS / "install.md").read_text()
    m = re.search(r"<!-- systemd-settings -->\n\| setting \| ours \| Debian's `patroni.service` \| why ours differs \|\n"
                  r"\|[-|]+\|\n((?:\|.*\n)+)", text)
    assert m, "docs/install.md: no systemd settings table after <!-- systemd-settings -->"
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        assert len(cells) == 4, line

        def value(cell: str) -> str:
            return "" if cell.startswith("(not set") else re.fullmatch(r"`([^`]*)`", cell).group(1)

        rows[re.fullmatch(r"`(\w+)`", cells[0]).group(1)] = (value(cells[1]), value(cells[2]), cells[3])
    return rows


def test_systemd_unit_matches_its_documented_settings_and_debians_unit():
    ours = _unit_settings((DOCS / "systemd/patroni-dynamodb.service").read_text())
    doc = _documented_unit_settings()
    inherited = _INHERITED_BY_POSTGRES & set(ours)
    assert not inherited, f"{sorted(inherited)}: inherited by every PostgreSQL backend (docs/install.md, systemd)"
    described = {"Description", "Documentation"}
    for key, value in ours.items():
        if key not in described:
            assert key in doc, f"docs/install.md does not list the unit's setting {key}={value}"
    for key, (documented, _, _) in doc.items():
        assert ours.get(key, "") == documented, \
            f"{key}: the unit has {ours.get(key)!r}, docs/install.md says {documented!r}"
    for key, (mine, theirs, why) in doc.items():
        if mine != theirs:
            assert why, f"{key}: differs from Debian's patroni.service without a reason in docs/install.md"
    if not DEBIAN_PATRONI_UNIT.is_file():
        pytest.skip(f"{DEBIAN_PATRONI_UNIT} missing (Debian's patroni package, which `make deps` installs): "
                    "our unit was checked against the doc only")
    debian = _unit_settings(DEBIAN_PATRONI_UNIT.read_text())
    for key, value in debian.items():
        if key not in described:
            assert key in doc, f"docs/install.md does not list Debian's setting {key}={value}"
    for key, (_, documented, _) in doc.items():
        assert debian.get(key, "") == documented, \
            f"{key}: Debian's patroni.service has {debian.get(key)!r}, docs/install.md says {documented!r}"


def _installed_binaries() -> Dict[str, Path]:
    cli = SCRIPTS / "dynatroni"
    try:
        import dynatroni._core as core
    except ImportError:
        core = None
    found = {"command": cli, "extension": Path(core.__file__) if core else None}
    missing = [k for k, v in found.items() if v is None or not v.is_file()]
    if missing:
        pytest.skip(f"not installed: {missing} (`make python-install` installs them; `make test` runs it first)")
    return found


def _dpkg_package(path: str) -> str:
    candidates = [path, os.path.realpath(path)]
    candidates += [("/usr" + c) if not c.startswith("/usr/") else c[4:] for c in list(candidates)]
    for c in candidates:
        r = subprocess.run(["dpkg-query", "-S", c], capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    raise AssertionError(f"no Debian package owns {path}")


def linked_packages() -> Dict[str, Dict[str, Set[str]]]:
    """Debian package -> {soname -> which binaries link it}, for the libraries the installed extension and the
    `dynatroni` command link directly (ELF NEEDED, resolved by ldd)."""
    readelf = shutil.which("readelf")
    assert readelf, "readelf missing (binutils, via build-essential: `make deps`)"
    out: Dict[str, Dict[str, Set[str]]] = {}
    for what, binary in _installed_binaries().items():
        dyn = subprocess.run([readelf, "-d", str(binary)], capture_output=True, text=True, timeout=60, check=True)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn.stdout)
        ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=60, check=True).stdout
        paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
        paths.update({Path(p).name: p for p in re.findall(r"^\s*(/\S+) \(0x", ldd, re.M)})
        for lib in needed:
            assert lib in paths, f"{binary}: ldd does not resolve {lib}:\n{ldd}"
            out.setdefault(_dpkg_package(paths[lib]), {}).setdefault(lib, set()).add(what)
    return out


def test_install_md_names_the_runtime_packages_of_what_is_installed():
    linked = linked_packages()
    text = (DOCS / "install.md").read_text()
    m = re.search(r"^\| package \| libraries \| linked by \| pulled in by PostgreSQL 15 \|\n\|[-|]+\|\n((?:\|.*\n)+)",
                  text, re.M)
    assert m, "docs/install.md: no runtime package table"
    rows = {}
    for line in m.group(1).splitlines():
        pkg, libs, by, with_pg = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[pkg.strip("`")] = (set(re.findall(r"`([^`]+)`", libs)), {w.strip() for w in by.split(",")}, with_pg)
    assert set(rows) == set(linked), f"docs/install.md lists {sorted(rows)}; the binaries link {sorted(linked)}"
    for pkg, sonames in linked.items():
        assert rows[pkg][0] == set(sonames), f"{pkg}: docs/install.md lists {rows[pkg][0]}, linked: {set(sonames)}"
        for soname, by in sonames.items():
            assert rows[pkg][1] == by, f"{pkg} ({soname}): docs/install.md says linked by {rows[pkg][1]}, not {by}"
    apt_line = re.search(r"<!-- runtime-packages -->\n```\w*\napt-get install ([^\n]+)\n```", text)
    assert apt_line, "docs/install.md: no apt-get line after <!-- runtime-packages -->"
    not_with_pg = {p for p, (_, _, pg) in rows.items() if pg == "no"}
    assert set(apt_line.group(1).split()) == not_with_pg, apt_line.group(0)
    assert {pg for _, _, pg in rows.values()} <= {"yes", "no"}
    apt_cache = shutil.which("apt-cache")
    if not apt_cache:
        pytest.skip("apt-cache missing: the PostgreSQL column was not checked")
    r = subprocess.run([apt_cache, "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                        "--no-breaks", "--no-replaces", "--no-enhances", "postgresql-15"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    pulled = set(re.findall(r"^\s*(?:Pre)?Depends: (\S+)$", r.stdout, re.M))
    for pkg, (_, _, pg) in rows.items():
        assert (pkg in pulled) == (pg == "yes"), f"{pkg}: docs/install.md says {pg!r} for PostgreSQL 15"


def test_version_lives_in_version_file_only():
    version = (REPO / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'metadata.version.input = "VERSION"' in pyproject
    assert not re.search(r'^version\s*=', pyproject, re.M)
    assert f"## [{version}]" in (REPO / "CHANGELOG.md").read_text()
    import dynatroni
    assert dynatroni.__version__ == version
    r = run_cli(["--version"], dict(os.environ))
    assert r.returncode == 0 and r.stdout.strip() == f"dynatroni {version}", r.stdout


def test_install_md_lists_what_the_wheel_adds_beside_its_package():
    """docs/install.md's table of files the wheel puts into site-packages outside `dynatroni/` is exactly what the
    installed distribution's RECORD holds there (bytecode aside), and each row quotes that file's statement."""
    import importlib.metadata
    text = (DOCS / "install.md").read_text()
    section = text.split("## How plain `patroni` finds the plugin", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([^`]+)` \| `([^`]+)`", section, re.M))
    dist = importlib.metadata.distribution("dynatroni")
    added = {str(f) for f in dist.files or [] if not str(f).startswith(("dynatroni/", "../"))
             and ".dist-info/" not in str(f) and "__pycache__" not in str(f)}
    assert set(rows) == added, f"docs/install.md lists {sorted(rows)}; the wheel installs {sorted(added)}"
    for name, statement in rows.items():
        content = dist.locate_file(name).read_text()
        assert statement in content, f"{name}: docs/install.md quotes {statement!r}; the file has {content!r}"


def test_project_scripts_point_at_main_functions():
    import importlib
    import tomllib
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"patroni-dynamodb", "patronictl-dynamodb"}
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), target


# ------------------------------------------------------------------ the lock (requirements-dev.lock)

LOCK = REPO / "requirements-dev.lock"


def _lock_pins() -> Dict[str, Tuple[str, List[str]]]:
    """normalised name -> (version, hashes) for every requirement in the lock; fails on any other kind of line."""
    from packaging.utils import canonicalize_name
    pins: Dict[str, Tuple[str, List[str]]] = {}
    text = re.sub(r"#[^\n]*", "", LOCK.read_text()).replace("\\\n", " ")
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)\s*", line)
        assert m, f"{LOCK.name}: not an ==-pinned requirement with --hash lines: {line.strip()!r}"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"{LOCK.name}: {name} pinned twice"
        pins[name] = (m.group(2), re.findall(r"sha256:([0-9a-f]{64})", m.group(3)))
    return pins


def test_lock_pins_every_package_exactly_with_hashes():
    pins = _lock_pins()
    # the build backend, the test tools and the demo's Patroni are all in it (and so installed from it alone)
    for name in ("scikit-build-core", "nanobind", "pathspec", "pytest", "moto", "boto3", "botocore", "werkzeug",
                 "flask", "patroni", "psycopg", "python-etcd", "matplotlib", "cfn-lint", "python-hcl2"):
        assert name in pins, f"{name} is not in {LOCK.name}"
    head = LOCK.read_text().splitlines()[:8]
    assert any("make lock" in ln for ln in head), f"{LOCK.name} was not compiled by `make lock`: {head}"


def test_lock_satisfies_requirements_dev_and_pyproject():
    """Every range in requirements-dev.txt and pyproject.toml (build backend, test extra) holds the version the lock
    pins: editing a range without `make lock`, or a lock that left the tested range, fails here."""
    import tomllib
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    pins = _lock_pins()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    lines = [ln.split("#", 1)[0].strip() for ln in (REPO / "requirements-dev.txt").read_text().splitlines()]
    ranges = [ln for ln in lines if ln] + pyproject["build-system"]["requires"] + \
        pyproject["project"]["optional-dependencies"]["test"]
    for spec in ranges:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{spec}: {name} is not in {LOCK.name} (run `make lock`)"
        assert req.specifier.contains(pins[name][0], prereleases=True), \
            f"{spec}: {LOCK.name} pins {name}=={pins[name][0]} (run `make lock`)"
        assert req.specifier, f"{spec}: no version range"
    for spec in pyproject["build-system"]["requires"]:  # upper bounds: a new major/minor is tested before use
        assert "<" in str(Requirement(spec).specifier), f"pyproject.toml [build-system] {spec}: no upper bound"


def test_make_deps_installs_the_lock_and_make_lock_is_documented():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^LOCK := requirements-dev\.lock$", makefile, re.M)
    assert re.search(r"^\$\(VENV_STAMP\): \$\(LOCK\)", makefile, re.M), "the venv stamp must depend on the lock"
    assert "pip install --disable-pip-version-check --progress-bar off -q --require-hashes --no-deps -r $(LOCK)" \
        in makefile
    assert "lock" in _make_targets()
    r = subprocess.run(["make", "-n", "lock", "UPGRADE=all"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "pip-compile" in r.stdout and "--generate-hashes" in r.stdout and "--upgrade" in r.stdout
    assert "--output-file requirements-dev.lock requirements-dev.txt" in r.stdout
    for doc in (REPO / "README.md", DOCS / "install.md"):
        text = " ".join(doc.read_text().split())
        assert "requirements-dev.lock" in text and "`make lock`" in text, f"{doc.name} does not describe the lock"
    assert ("make", "lock") in {tuple(c.split()[:2]) for _, c, _ in shown_commands()}
    ci = (REPO / ".ci/run").read_text()
    assert re.search(r'^rm -rf "\$VENV"$', ci, re.M) and "PIP_NO_CACHE_DIR=1" in ci, \
        ".ci/run must build the virtualenv afresh from the lock"


def test_reliability_md_mutation_matrix_lists_every_mutant_the_test_runs():
    """docs/reliability.md's mutation matrix has one row per variant of dcs/lease_mutants.h, named as
    dcs/lease_mutation_test.cc names it (and the test runs every variant the header declares)."""
    root = Path(__file__).resolve().parents[2]
    header = (root / 'dcs' / 'lease_mutants.h').read_text()
    enum = re.search(r'enum class LeaseMutant \{(.*?)\};', header, re.S).group(1)
    declared = set(re.findall(r'^\s*(k[A-Za-z]+)', enum, re.M)) - {'kNone'}
    test = (root / 'dcs' / 'lease_mutation_test.cc').read_text()
    rows = re.findall(r'\{LeaseMutant::(k[A-Za-z]+),\s*"([^"]+)"', test)
    assert {m for m, _ in rows} == declared, 'the mutation test must run every declared variant'
    doc = (root / 'docs' / 'reliability.md').read_text()
    table = {line.split('|')[1].strip(): line for line in doc.splitlines()
             if line.startswith('| ') and line.count('|') == 5}
    for _, name in rows:
        assert name in table, f'docs/reliability.md: no mutation-matrix row for "{name}"'
        assert re.search(r'\|\s*\d+\s*\|\s*\d+\s*\|$', table[name]), f'row "{name}" lacks schedules and seed'


def test_reliability_md_long_run_is_a_million_schedules_without_violations():
    """The long run quoted in docs/reliability.md: each quoted command's output matches its arguments (schedule
    count, seed range), together they cover at least 1,000,000 schedules, none reported a violation, and the
    Commands table names exactly the quoted commands."""
    doc = (REPO / 'docs' / 'reliability.md').read_text()
    runs = re.findall(r'^\$ build/dcs/dynatroni_lease_sim (\d+) (\d+)\n'
                      r'schedules (\d+) \(seeds (\d+)\.\.(\d+),[^\n]*\n'
                      r'violations (\d+);', doc, re.M)
    assert runs, 'docs/reliability.md quotes no long run'
    total = 0
    for n, first, shown_n, lo, hi, violations in runs:
        assert n == shown_n and first == lo and int(hi) == int(lo) + int(n) - 1, (n, first, shown_n, lo, hi)
        assert violations == '0'
        total += int(n)
    assert total >= 1_000_000, f'the quoted long run has {total} schedules'
    long_row = next(line for line in doc.splitlines() if line.startswith('| Simulation, the long run'))
    assert sorted(re.findall(r'dynatroni_lease_sim (\d+ \d+)', long_row)) == sorted(f'{n} {f}' for n, f, *_ in runs)
    usage = (REPO / 'dcs' / 'lease_sim_main.cc').read_text()
    assert 'dynatroni_lease_sim [SCHEDULES] [FIRST_SEED]' in usage


# ------------------------------------------------------------------ operations.md: the plugin's log


def _what_the_log_says() -> Dict[str, str]:
    """docs/operations.md's "What the log says" table: failure (first cell) -> the quoted line (second cell)."""
    text = (DOCS / "operations.md").read_text()
    section = text.split("## What the log says", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and len(cells) >= 3 and cells[1].startswith("`"):
            rows[cells[0]] = cells[1].strip("`")
    return rows


def test_operations_md_names_the_plugins_logger():
    """The logger the docs tell operators to configure is the one the plugin logs on, a child of Patroni's
    `patroni` logger (so Patroni's `log.loggers` settings cover it)."""
    sys.path.insert(0, str(REPO / "python" / "tests"))
    from dynatroni import dynamodb, failure_log
    text = (DOCS / "operations.md").read_text()
    named = set(re.findall(r"\(logger `([\w.]+)`", text))
    assert named == {failure_log.LOGGER_NAME}, named
    assert dynamodb.logger.name == failure_log.LOGGER_NAME == "patroni.dcs.dynamodb"
    assert failure_log.LOGGER_NAME.startswith("patroni.")


def test_patronis_log_loggers_setting_sets_the_plugins_level():
    """What operations.md says of `log.loggers`, with Patroni's own PatroniLogger.update_loggers."""
    import logging
    import types
    from patroni.log import PatroniLogger
    from dynatroni import failure_log
    fake = types.SimpleNamespace(_root_logger=logging.getLogger())
    ours = logging.getLogger(failure_log.LOGGER_NAME)
    text = (DOCS / "operations.md").read_text()
    assert "`patroni.dcs.dynamodb:\nWARNING` keeps its warnings and errors only" in text and "`patroni.dcs: DEBUG` covers it" in text
    manager = logging.getLogger().manager
    saved = {name: lg.level for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    try:
        PatroniLogger.update_loggers(fake, {"patroni.dcs.dynamodb": "WARNING"})
        assert ours.getEffectiveLevel() == logging.WARNING
        PatroniLogger.update_loggers(fake, {"patroni.dcs": "DEBUG"})
        assert ours.getEffectiveLevel() == logging.DEBUG
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_operations_md_log_table_has_a_row_of_the_tested_shape_per_failure():
    """One row per failure python/tests/test_plugin_failure_log.py produces, each quoting a line of the shape that
    test asserts (python/tests/failure_lines.py), plus the background credential refresh and the summary."""
    sys.path.insert(0, str(REPO / "python" / "tests"))
    import failure_lines
    rows = _what_the_log_says()
    expected = {f.name for f in failure_lines.FAILURES} | {"credential refresh", "repeated failures"}
    assert set(rows) == expected, set(rows) ^ expected
    for f in failure_lines.FAILURES:
        assert f.match(rows[f.name]), (f.name, rows[f.name], f.pattern().pattern)
    assert failure_lines.CREDENTIAL_REFRESH.search(rows["credential refresh"]), rows["credential refresh"]
    assert failure_lines.SUMMARY.search(rows["repeated failures"]), rows["repeated failures"]


def member_clock_allowance_s() -> int:
    """kMemberClockAllowance (dcs/member_expiry.h), in seconds: what a new process adds to 2 x ttl before it drops a
    member by its updated_at."""
    m = re.search(r"kMemberClockAllowance\s*=\s*std::chrono::seconds\((\d+)\)",
                  (REPO / "dcs/member_expiry.h").read_text())
    assert m, "dcs/member_expiry.h: kMemberClockAllowance = std::chrono::seconds(N) not found"
    return int(m.group(1))


def test_fresh_reader_bound_and_allowance_in_the_docs_are_the_codes():
    """design.md and configuration.md state how old a member item must be for a new process (patronictl list) to drop
    it — 2 x ttl (Timing::MemberExpiry) + the allowance — and how much clock skew that tolerates: the code's numbers."""
    a = member_clock_allowance_s()
    assert "return 2 * ttl;" in (REPO / "dcs/timing.cc").read_text(), "MemberExpiry() is no longer 2 ttl"
    config = (DOCS / "configuration.md").read_text()
    row = re.search(r"^\| a new process \(`patronictl list`\) drops a member written longer ago than \| "
                    r"`2 × ttl \+ (\d+) s` \|([^\n]*)\|$", config, re.M)
    assert row, "configuration.md: the dial table has no row for a new process's member expiry"
    header = re.search(r"^\| Patroni setting \| value \|([^\n]*)\|$", config, re.M)
    dials = [int(x) for x in re.findall(r"F = (\d+)", header.group(1))]
    assert int(row.group(1)) == a
    assert [int(x) for x in row.group(2).split("|")] == [2 * f + a for f in dials]
    assert f"2 × ttl + {a} s" in config and f"node clocks up to {a} s apart" in config
    design = (DOCS / "design.md").read_text()
    assert f"A = {a} s" in design and f"lags the reader's (corrected)\nclock by at most `A` = {a} s" in design
    for f in re.findall(r"(\d+) s at F=(\d+)", design.split("### A new process's view of the members")[1]
                        .split("\n## ")[0]):
        assert int(f[0]) == 2 * int(f[1]) + a, f"design.md: {f[0]} s at F={f[1]} is not 2F + {a}"
