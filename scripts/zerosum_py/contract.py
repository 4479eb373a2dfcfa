"""The API contract (docs/openapi.yaml) as a checker of answers.

check(method, path, answer) finds the operation for the request's method and
route template and returns the list of ways the answer breaks the document
(empty when it conforms): an undocumented status or media type, a body that
fails the status's schema (a missing required member, an undocumented one, a
code outside the route's enum), a required header missing. The rules of the
document's info.description apply: one trailing slash is the same path, HEAD
is GET without a body, a method no operation lists must be the 405
MethodNotAllowed answer, and a path the document does not list is either a
static file of the dashboard (not checked) or the 404 NotFound answer.

Answers without a status (transport failures) are not answers and are not
checked.
"""
import json
import os
import re
import threading

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOC_PATH = os.path.join(REPO, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

_lock = threading.Lock()
_contract = None


class Contract:
    """The document loaded once: its operations by (method, template) and a
    validator per referenced schema."""

    def __init__(self, path=DOC_PATH):
        import yaml
        from jsonschema import Draft202012Validator
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self._validator_cls = Draft202012Validator
        self._validators = {}
        self.routes = []            # (regex, template, path item), literals before captures
        for template, item in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.routes.append((re.compile(rx), template, item))
        self.routes.sort(key=lambda r: r[1].count("{"))

    def resolve(self, obj):
        """obj with a top-level $ref followed (components/...)."""
        while isinstance(obj, dict) and "$ref" in obj and len(obj) == 1:
            node = self.doc
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
        return obj

    def validator(self, schema):
        key = id(schema)
        v = self._validators.get(key)
        if v is None:
            wrapper = dict(schema)
            wrapper["components"] = self.doc["components"]
            v = self._validators[key] = (self._validator_cls(wrapper), schema)
        return v[0]

    def operations(self):
        """[(METHOD, template)] of every documented operation."""
        return [(m.upper(), t) for t, item in self.doc["paths"].items() for m in item if m in METHODS]

    def match(self, path):
        """(template, path item) for a request path, or (None, None)."""
        p = path.split("?", 1)[0]
        if len(p) > 1 and p.endswith("/"):
            p = p[:-1]
        for rx, template, item in self.routes:
            if rx.match(p):
                return template, item
        return None, None

    def check(self, method, path, answer):
        if answer.status is None:
            return []
        method = method.upper()
        template, item = self.match(path)
        where = f"{method} {path.split('?', 1)[0]} → {answer.status}"
        if template is None:
            ctype = answer.headers.get("content-type", "")
            if not ctype.startswith(("application/json", "application/problem+json")):
                return []           # a static file of the dashboard
            rule = {404: "NotFound", 405: "MethodNotAllowed"}.get(answer.status)
            if rule:
                return self._check_response(self.resolve(self.doc["components"]["responses"][rule]),
                                            answer, where, method == "HEAD")
            return self._generic(answer, where)
        op = item.get("get" if method == "HEAD" else method.lower())
        if op is None:
            if answer.status == 405:
                return self._check_response(self.resolve(self.doc["components"]["responses"]["MethodNotAllowed"]),
                                            answer, where, method == "HEAD")
            return self._generic(answer, where, f"{method} is not documented for {template}")
        resp = op["responses"].get(str(answer.status))
        if resp is None:
            return [f"{where}: status {answer.status} is not documented for {method} {template}"
                    f" (body {answer.text[:200]!r})"]
        return self._check_response(self.resolve(resp), answer, where, method == "HEAD")

    def _generic(self, answer, where, why=None):
        """An answer no operation covers: a problem of a status nginx may give any path."""
        if answer.status in (400, 413, 414, 431, 429, 503, 505) and \
                answer.headers.get("content-type", "").startswith("application/problem+json"):
            return self._validate(self.doc["components"]["schemas"]["Problem"], answer, where)
        return [f"{where}: {why or 'undocumented answer'} (body {answer.text[:200]!r})"]

    def _check_response(self, resp, answer, where, head):
        errors = []
        for name, h in (resp.get("headers") or {}).items():
            h = self.resolve(h)
            if h.get("required") and name.lower() not in answer.headers:
                errors.append(f"{where}: required header {name} missing")
        content = resp.get("content") or {}
        if head:
            if answer.text:
                errors.append(f"{where}: a HEAD answer has a body")
            return errors
        ctype = answer.headers.get("content-type", "").split(";", 1)[0].strip()
        if not content:
            if answer.text:
                errors.append(f"{where}: a body where the document has none")
            return errors
        media = content.get(ctype)
        if media is None:
            return errors + [f"{where}: content type {ctype!r} not documented (have {sorted(content)})"]
        schema = media.get("schema", {})
        if ctype.endswith("json"):
            return errors + self._validate(schema, answer, where)
        if schema.get("type") == "string" and not isinstance(answer.text, str):
            errors.append(f"{where}: body is not text")
        return errors

    def _validate(self, schema, answer, where):
        try:
            body = json.loads(answer.text)
        except ValueError:
            return [f"{where}: body is not JSON: {answer.text[:200]!r}"]
        errs = sorted(self.validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
        out = []
        for e in errs[:5]:
            at = "/".join(str(p) for p in e.absolute_path) or "(body)"
            out.append(f"{where}: at {at}: {e.message[:300]}")
        return out


def contract():
    """The document, loaded on first use."""
    global _contract
    with _lock:
        if _contract is None:
            _contract = Contract()
        return _contract


class Recorder:
    """Collects contract violations of every answer checked through it."""

    def __init__(self):
        self.violations = []
        self.checked = 0
        self._lock = threading.Lock()

    def __call__(self, method, path, answer):
        errors = contract().check(method, path, answer)
        with self._lock:
            self.checked += 1
            self.violations.extend(errors)
