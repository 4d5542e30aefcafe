"""A stand-in for GitHub's REST API on 127.0.0.1, for tests that talk to it over real HTTP.

It serves exactly the endpoints ``switchboard.backends.github`` reaches through
PyGithub, with GitHub's documented paths, request bodies, status codes and
response shapes (https://docs.github.com/rest — git/refs, git/trees,
git/blobs, git/commits, repos/branches, actions/workflows, actions/secrets):

    GET   /repos/{o}/{r}                                  repository (default_branch, permissions)
    GET   /repos/{o}/{r}/branches/{b}                     branch with its head commit and tree sha
    GET   /repos/{o}/{r}/git/ref/{ref}   (and git/refs/{ref})
    PATCH /repos/{o}/{r}/git/refs/{ref}                   {sha, force}; 422 "Update is not a fast forward"
    GET   /repos/{o}/{r}/git/commits/{sha}   POST git/commits
    GET   /repos/{o}/{r}/git/trees/{sha}[?recursive=1]   POST git/trees (base_tree, sha: null deletes)
    GET   /repos/{o}/{r}/git/blobs/{sha}     POST git/blobs (utf-8 or base64)
    GET   /repos/{o}/{r}/actions/workflows/{id|file}      PUT …/enable, PUT …/disable
    POST  /repos/{o}/{r}/actions/workflows/{id|file}/dispatches
    GET   /repos/{o}/{r}/actions/workflows/{id|file}/runs
    GET   /repos/{o}/{r}/actions/secrets/public-key   PUT actions/secrets/{name}

Git objects are kept in memory and named the way git names them (sha1 of
``"<type> <size>\\0<body>"``), trees are nested like git's, and a branch only
moves forward unless ``force`` is set — the property the backend relies on.

Test hooks: ``files()``, ``head()``, ``push_external()``, ``requests`` (the
request log), ``dispatches``, ``set_workflow()``/``workflow_state()``,
``add_run()``, ``secrets`` and ``decrypt_secret()`` (the stand-in keeps the
private half of the Actions secrets key pair), ``fail_next()``, ``can_push``,
``oauth_scopes`` and ``truncate_at``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nacl import encoding, public

#: GitHub's documentation links, as its error bodies carry them.
_DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the stand-in answered (after authentication)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class _Workflow:
    id: int
    file: str
    name: str
    state: str = "active"
    dispatchable: bool = True
    runs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Failure:
    method: str
    path_re: re.Pattern[str]
    status: int
    message: str


class _HTTPError(Exception):
    """An error answer: GitHub's ``{"message", "documentation_url", "status"}`` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _git_hash(kind: str, body: bytes) -> str:
    """The object name git would give ``body`` (sha1 over header and body)."""
    return hashlib.sha1(b"%s %d\0" % (kind.encode(), len(body)) + body).hexdigest()


def _tree_sort_key(entry: tuple[str, str, str, str]) -> bytes:
    # git orders tree entries by name, comparing a subtree as if it ended with "/".
    _mode, name, kind, _sha = entry
    return (name + "/").encode() if kind == "tree" else name.encode()


class GitHubStandIn:
    """GitHub's REST API for one repository, in memory, on an ephemeral 127.0.0.1 port."""

    def __init__(
        self,
        repo: str = "octo/switchboard",
        token: str = "ghp_standin_token_0123456789",
        *,
        default_branch: str = "main",
        files: Mapping[str, bytes] | None = None,
        workflows: Mapping[str, str] | None = None,
    ) -> None:
        self.owner, self.name = repo.split("/", 1)
        self.token = token
        self.default_branch = default_branch
        #: when False, every write answers 403 like a read-only token.
        self.can_push = True
        #: when set, a recursive tree listing stops after this many entries and says ``truncated``.
        self.truncate_at: int | None = None
        #: when set, answers carry ``X-OAuth-Scopes`` as for a classic token (e.g. "repo, workflow").
        self.oauth_scopes: str | None = None
        self.requests: list[LoggedRequest] = []
        self.dispatches: list[dict[str, Any]] = []
        #: secret name -> {"encrypted_value", "key_id"} exactly as PUT.
        self.secrets: dict[str, dict[str, str]] = {}
        self._lock = threading.RLock()
        self._blobs: dict[str, bytes] = {}
        self._trees: dict[str, list[tuple[str, str, str, str]]] = {}  # (mode, name, type, sha)
        self._commits: dict[str, dict[str, Any]] = {}
        self._refs: dict[str, str] = {}
        self._workflows: dict[str, _Workflow] = {}
        self._failures: list[_Failure] = []
        self._private_key = public.PrivateKey.generate()
        self.secrets_key_id = "568250167242549743"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._run_ids = iter(range(30433642, 10**12))

        root = self._build_tree(dict(files or {"README.md": b"# switchboard\n"}))
        self._refs[default_branch] = self._make_commit("Initial commit", root, [])
        for file, state in (workflows or {"tick.yml": "active"}).items():
            self.set_workflow(file, state)

    # -- lifecycle -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: pass it to PyGithub as ``base_url``."""
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GitHubStandIn:
        """Listen on an ephemeral port and serve from a daemon thread."""
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (and so every test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="github-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test hooks ----------------------------------------------------------------

    def head(self, branch: str | None = None) -> str:
        """The commit sha ``branch`` (default branch if None) points at."""
        with self._lock:
            return self._refs[branch or self.default_branch]

    def files(self, branch: str | None = None) -> dict[str, bytes]:
        """Every file on ``branch`` (default branch if None): path -> content."""
        with self._lock:
            tree = self._commits[self.head(branch)]["tree"]
            return {path: self._blobs[sha] for path, (_, sha) in self._flatten(tree).items()}

    def commit_count(self, branch: str | None = None) -> int:
        """How many commits are reachable from ``branch`` (first parents only)."""
        with self._lock:
            count, sha = 0, self.head(branch)
            while True:
                count += 1
                parents = self._commits[sha]["parents"]
                if not parents:
                    return count
                sha = parents[0]

    def parent(self, sha: str) -> str:
        """The first parent of commit ``sha``."""
        with self._lock:
            return str(self._commits[sha]["parents"][0])

    def commit_message(self, sha: str | None = None) -> str:
        """The message of commit ``sha`` (the default branch head if None)."""
        with self._lock:
            return str(self._commits[sha or self.head()]["message"])

    def push_external(
        self, changes: Mapping[str, bytes | None], message: str = "external change", branch: str | None = None
    ) -> str:
        """Move ``branch`` forward as another writer would; returns the new head sha."""
        with self._lock:
            branch = branch or self.default_branch
            head = self._refs[branch]
            flat = {path: sha for path, (_, sha) in self._flatten(self._commits[head]["tree"]).items()}
            for path, content in changes.items():
                if content is None:
                    flat.pop(path, None)
                else:
                    flat[path] = self._store_blob(content)
            tree = self._build_tree_from_shas(flat)
            self._refs[branch] = self._make_commit(message, tree, [head])
            return self._refs[branch]

    def set_workflow(self, file: str, state: str = "active", *, dispatchable: bool = True) -> None:
        """Add or change a workflow (``.github/workflows/<file>``) and its state."""
        with self._lock:
            if file in self._workflows:
                self._workflows[file].state = state
                self._workflows[file].dispatchable = dispatchable
            else:
                wf_id = 161335 + len(self._workflows)
                self._workflows[file] = _Workflow(wf_id, file, file.rsplit(".", 1)[0], state, dispatchable)

    def workflow_state(self, file: str) -> str:
        """The state of workflow ``file``: active, disabled_manually, disabled_fork, …"""
        with self._lock:
            return self._workflows[file].state

    def add_run(
        self, file: str, *, status: str = "completed", conclusion: str | None = "success", event: str = "schedule"
    ) -> int:
        """Record a workflow run (newest first in listings); returns its id."""
        with self._lock:
            return self._add_run(self._workflows[file], self.default_branch, event, status, conclusion)

    def decrypt_secret(self, name: str) -> str:
        """The plain value of an Actions secret, opened with the stand-in's private key."""
        sealed = base64.b64decode(self.secrets[name]["encrypted_value"])
        return public.SealedBox(self._private_key).decrypt(sealed).decode()

    def fail_next(self, method: str, path_pattern: str, status: int, message: str) -> None:
        """Answer the next ``method`` request whose path matches ``path_pattern`` with an error."""
        with self._lock:
            self._failures.append(_Failure(method.upper(), re.compile(path_pattern), status, message))

    def count(self, method: str | None = None, path_contains: str = "") -> int:
        """How many logged requests match ``method`` and contain ``path_contains``."""
        return sum(1 for r in self.requests if (method is None or r.method == method) and path_contains in r.path)

    # -- git object store ----------------------------------------------------------

    def _store_blob(self, content: bytes) -> str:
        sha = _git_hash("blob", content)
        self._blobs[sha] = content
        return sha

    def _store_tree(self, entries: list[tuple[str, str, str, str]]) -> str:
        entries = sorted(entries, key=_tree_sort_key)
        body = b"".join(
            f"{mode.lstrip('0')} {name}".encode() + b"\0" + bytes.fromhex(sha) for mode, name, _, sha in entries
        )
        sha = _git_hash("tree", body)
        self._trees[sha] = entries
        return sha

    def _build_tree(self, files: Mapping[str, bytes]) -> str:
        return self._build_tree_from_shas({path: self._store_blob(data) for path, data in files.items()})

    def _build_tree_from_shas(self, flat: Mapping[str, str]) -> str:
        """Nested git trees for a flat ``path -> blob sha`` map; returns the root tree sha."""
        here: list[tuple[str, str, str, str]] = []
        below: dict[str, dict[str, str]] = {}
        for path, sha in flat.items():
            head, sep, rest = path.partition("/")
            if sep:
                below.setdefault(head, {})[rest] = sha
            else:
                here.append(("100644", head, "blob", sha))
        for name, sub in below.items():
            here.append(("040000", name, "tree", self._build_tree_from_shas(sub)))
        return self._store_tree(here)

    def _flatten(self, tree_sha: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        """``path -> (mode, blob sha)`` for every file below tree ``tree_sha``."""
        out: dict[str, tuple[str, str]] = {}
        for mode, name, kind, sha in self._trees[tree_sha]:
            if kind == "tree":
                out.update(self._flatten(sha, f"{prefix}{name}/"))
            else:
                out[prefix + name] = (mode, sha)
        return out

    def _walk(self, tree_sha: str, prefix: str = "") -> Iterator[tuple[str, tuple[str, str, str, str]]]:
        """Every entry below ``tree_sha`` in git's pre-order, as GitHub lists ``recursive=1``."""
        for entry in self._trees[tree_sha]:
            yield prefix + entry[1], entry
            if entry[2] == "tree":
                yield from self._walk(entry[3], f"{prefix}{entry[1]}/")

    def _make_commit(self, message: str, tree: str, parents: list[str], author: dict[str, str] | None = None) -> str:
        person = {"name": "Stand-in", "email": "standin@example.invalid", "date": _now()}
        author = {**person, **(author or {})}
        stamp = int(datetime.now(UTC).timestamp())
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {author['name']} <{author['email']}> {stamp} +0000\n"
        text += f"committer {author['name']} <{author['email']}> {stamp} +0000\n\n{message}"
        sha = _git_hash("commit", text.encode())
        self._commits[sha] = {"tree": tree, "parents": parents, "message": message, "author": author}
        return sha

    def _is_ancestor(self, ancestor: str, sha: str) -> bool:
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current == ancestor:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(self._commits[current]["parents"])
        return False

    def _add_run(self, wf: _Workflow, branch: str, event: str, status: str, conclusion: str | None) -> int:
        run_id = next(self._run_ids)
        base = f"{self._repo_url}/actions/runs/{run_id}"
        wf.runs.insert(
            0,
            {
                "id": run_id,
                "name": wf.name,
                "node_id": f"WFR_{run_id}",
                "head_branch": branch,
                "head_sha": self._refs.get(branch, ""),
                "path": f".github/workflows/{wf.file}",
                "run_number": len(wf.runs) + 1,
                "event": event,
                "display_title": wf.name,
                "status": status,
                "conclusion": conclusion,
                "workflow_id": wf.id,
                "url": base,
                "html_url": f"https://github.com/{self.owner}/{self.name}/actions/runs/{run_id}",
                "created_at": _now(),
                "updated_at": _now(),
                "run_attempt": 1,
                "run_started_at": _now(),
                "jobs_url": f"{base}/jobs",
                "logs_url": f"{base}/logs",
                "workflow_url": f"{self._repo_url}/actions/workflows/{wf.id}",
            },
        )
        return run_id

    # -- JSON shapes ---------------------------------------------------------------

    @property
    def _repo_url(self) -> str:
        return f"{self.base_url}/repos/{self.owner}/{self.name}"

    def _commit_json(self, sha: str) -> dict[str, Any]:
        c = self._commits[sha]
        person = dict(c["author"])
        return {
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "url": f"{self._repo_url}/git/commits/{sha}",
            "html_url": f"https://github.com/{self.owner}/{self.name}/commit/{sha}",
            "author": person,
            "committer": person,
            "message": c["message"],
            "tree": {"sha": c["tree"], "url": f"{self._repo_url}/git/trees/{c['tree']}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{self._repo_url}/git/commits/{p}",
                    "html_url": f"https://github.com/{self.owner}/{self.name}/commit/{p}",
                }
                for p in c["parents"]
            ],
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        }

    def _ref_json(self, branch: str) -> dict[str, Any]:
        sha = self._refs[branch]
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": f"REF_{branch}",
            "url": f"{self._repo_url}/git/refs/heads/{urllib.parse.quote(branch)}",
            "object": {"type": "commit", "sha": sha, "url": f"{self._repo_url}/git/commits/{sha}"},
        }

    def _tree_entry_json(self, path: str, entry: tuple[str, str, str, str]) -> dict[str, Any]:
        mode, _, kind, sha = entry
        out: dict[str, Any] = {"path": path, "mode": mode, "type": kind, "sha": sha}
        if kind == "blob":
            out["size"] = len(self._blobs[sha])
            out["url"] = f"{self._repo_url}/git/blobs/{sha}"
        else:
            out["url"] = f"{self._repo_url}/git/trees/{sha}"
        return out

    def _tree_json(self, sha: str, recursive: bool) -> dict[str, Any]:
        if recursive:
            entries = [self._tree_entry_json(p, e) for p, e in self._walk(sha)]
        else:
            entries = [self._tree_entry_json(e[1], e) for e in self._trees[sha]]
        truncated = recursive and self.truncate_at is not None and len(entries) > self.truncate_at
        if truncated:
            entries = entries[: self.truncate_at]
        return {"sha": sha, "url": f"{self._repo_url}/git/trees/{sha}", "tree": entries, "truncated": truncated}

    def _repo_json(self) -> dict[str, Any]:
        full = f"{self.owner}/{self.name}"
        return {
            "id": 1296269,
            "node_id": "R_standin",
            "name": self.name,
            "full_name": full,
            "owner": {"login": self.owner, "id": 1, "type": "User", "url": f"{self.base_url}/users/{self.owner}"},
            "private": True,
            "fork": False,
            "html_url": f"https://github.com/{full}",
            "url": self._repo_url,
            "default_branch": self.default_branch,
            "visibility": "private",
            "permissions": {
                "admin": self.can_push,
                "maintain": self.can_push,
                "push": self.can_push,
                "triage": True,
                "pull": True,
            },
        }

    def _workflow_json(self, wf: _Workflow) -> dict[str, Any]:
        return {
            "id": wf.id,
            "node_id": f"W_{wf.id}",
            "name": wf.name,
            "path": f".github/workflows/{wf.file}",
            "state": wf.state,
            "created_at": "2024-01-01T00:00:00.000Z",
            "updated_at": "2024-01-01T00:00:00.000Z",
            "url": f"{self._repo_url}/actions/workflows/{wf.id}",
            "html_url": f"https://github.com/{self.owner}/{self.name}/blob/{self.default_branch}/.github/workflows/{wf.file}",
            "badge_url": f"https://github.com/{self.owner}/{self.name}/workflows/{wf.name}/badge.svg",
        }

    # -- routing -------------------------------------------------------------------

    def _handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        """Answer one authenticated request: (status, JSON body or None)."""
        with self._lock:
            for failure in self._failures:
                if failure.method == method and failure.path_re.search(path):
                    self._failures.remove(failure)
                    raise _HTTPError(failure.status, failure.message)
            prefix = f"/repos/{self.owner}/{self.name}".lower()
            if not path.lower().startswith(prefix):
                raise _HTTPError(404, "Not Found")
            rest = path[len(prefix) :]
            if method != "GET" and not self.can_push:
                raise _HTTPError(403, "Resource not accessible by personal access token")
            for route_method, pattern, handler in self._routes():
                match = re.fullmatch(pattern, rest)
                if match and route_method == method:
                    answer: tuple[int, Any] = handler(
                        *(urllib.parse.unquote(g) for g in match.groups()), query=query, body=body
                    )
                    return answer
            raise _HTTPError(404, "Not Found")

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"", self._get_repo),
            ("GET", r"/branches/(.+)", self._get_branch),
            ("GET", r"/git/refs?/heads/(.+)", self._get_ref),
            ("PATCH", r"/git/refs/heads/(.+)", self._patch_ref),
            ("GET", r"/git/commits/([^/]+)", self._get_commit),
            ("POST", r"/git/commits", self._post_commit),
            ("GET", r"/git/trees/([^/]+)", self._get_tree),
            ("POST", r"/git/trees", self._post_tree),
            ("GET", r"/git/blobs/([^/]+)", self._get_blob),
            ("POST", r"/git/blobs", self._post_blob),
            ("GET", r"/actions/workflows/([^/]+)", self._get_workflow),
            ("PUT", r"/actions/workflows/([^/]+)/(enable|disable)", self._put_workflow_state),
            ("POST", r"/actions/workflows/([^/]+)/dispatches", self._post_dispatch),
            ("GET", r"/actions/workflows/([^/]+)/runs", self._get_runs),
            ("GET", r"/actions/secrets/public-key", self._get_public_key),
            ("PUT", r"/actions/secrets/([^/]+)", self._put_secret),
        ]

    def _get_repo(self, **_: Any) -> tuple[int, Any]:
        return 200, self._repo_json()

    def _get_branch(self, branch: str, **_: Any) -> tuple[int, Any]:
        if branch not in self._refs:
            raise _HTTPError(404, "Branch not found")
        sha = self._refs[branch]
        commit = self._commit_json(sha)
        return 200, {
            "name": branch,
            "commit": {
                "sha": sha,
                "node_id": commit["node_id"],
                # GitHub nests the git commit without its own sha, as here.
                "commit": {k: v for k, v in commit.items() if k not in ("sha", "node_id", "html_url", "parents")},
                "url": f"{self._repo_url}/commits/{sha}",
                "html_url": commit["html_url"],
                "parents": commit["parents"],
            },
            "_links": {
                "self": f"{self._repo_url}/branches/{branch}",
                "html": f"https://github.com/{self.owner}/{self.name}/tree/{branch}",
            },
            "protected": False,
            "protection_url": f"{self._repo_url}/branches/{branch}/protection",
        }

    def _get_ref(self, branch: str, **_: Any) -> tuple[int, Any]:
        if branch not in self._refs:
            raise _HTTPError(404, "Not Found")
        return 200, self._ref_json(branch)

    def _patch_ref(self, branch: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        sha, force = body.get("sha"), bool(body.get("force", False))
        if branch not in self._refs:
            raise _HTTPError(422, "Reference does not exist")
        if sha not in self._commits:
            raise _HTTPError(422, "Object does not exist")
        if not force and not self._is_ancestor(self._refs[branch], sha):
            raise _HTTPError(422, "Update is not a fast forward")
        self._refs[branch] = sha
        return 200, self._ref_json(branch)

    def _get_commit(self, sha: str, **_: Any) -> tuple[int, Any]:
        if sha not in self._commits:
            raise _HTTPError(404, "Not Found")
        return 200, self._commit_json(sha)

    def _post_commit(self, *, body: Any, **_: Any) -> tuple[int, Any]:
        tree, parents = body.get("tree"), body.get("parents", [])
        if tree not in self._trees:
            raise _HTTPError(422, "Tree SHA does not exist")
        if any(p not in self._commits for p in parents):
            raise _HTTPError(422, "Parent SHA does not exist or is not a commit object")
        sha = self._make_commit(str(body.get("message", "")), tree, list(parents), body.get("author"))
        return 201, self._commit_json(sha)

    def _resolve_tree(self, name: str) -> str:
        # GitHub accepts a tree sha, a commit sha or a branch name here.
        if name in self._trees:
            return name
        if name in self._commits:
            return str(self._commits[name]["tree"])
        if name in self._refs:
            return str(self._commits[self._refs[name]]["tree"])
        raise _HTTPError(404, "Not Found")

    def _get_tree(self, name: str, *, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        # Any value of "recursive" turns recursion on, as GitHub documents.
        return 200, self._tree_json(self._resolve_tree(name), "recursive" in query)

    def _post_tree(self, *, body: Any, **_: Any) -> tuple[int, Any]:
        entries = body.get("tree")
        if not isinstance(entries, list):
            raise _HTTPError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
        base = body.get("base_tree")
        flat: dict[str, str] = {}
        if base is not None:
            if base not in self._trees:
                raise _HTTPError(422, "base_tree is not a valid tree oid")
            flat = {path: sha for path, (_, sha) in self._flatten(base).items()}
        for entry in entries:
            path = entry.get("path")
            if not isinstance(path, str) or not path or entry.get("type") not in ("blob", "tree"):
                raise _HTTPError(422, "Invalid tree entry")
            has_sha, has_content = "sha" in entry, "content" in entry
            if has_sha == has_content:
                raise _HTTPError(
                    422,
                    "Must supply either tree.sha or tree.content. Request will be rejected if both are present.",
                )
            if has_content:
                flat[path] = self._store_blob(str(entry["content"]).encode())
            elif entry["sha"] is None:
                doomed = [p for p in flat if p == path or p.startswith(path + "/")]
                if not doomed:
                    # GitHub: "Returns an error if you try to delete a file that does not exist."
                    raise _HTTPError(422, "GitRPC::BadObjectState")
                for p in doomed:
                    del flat[p]
            elif entry["type"] == "tree":
                if entry["sha"] not in self._trees:
                    raise _HTTPError(422, f"tree.sha {entry['sha']} is not a valid tree")
                flat = {p: s for p, s in flat.items() if not p.startswith(path + "/")}
                flat.update({f"{path}/{p}": s for p, (_, s) in self._flatten(entry["sha"]).items()})
            else:
                if entry["sha"] not in self._blobs:
                    raise _HTTPError(422, f"tree.sha {entry['sha']} is not a valid blob")
                flat[path] = entry["sha"]
        sha = self._build_tree_from_shas(flat)
        return 201, self._tree_json(sha, recursive=False)

    def _get_blob(self, sha: str, **_: Any) -> tuple[int, Any]:
        if sha not in self._blobs:
            raise _HTTPError(404, "Not Found")
        data = self._blobs[sha]
        # GitHub wraps the base64 text at 60 characters with newlines.
        b64 = base64.b64encode(data).decode()
        wrapped = "".join(b64[i : i + 60] + "\n" for i in range(0, len(b64), 60))
        return 200, {
            "sha": sha,
            "node_id": f"B_{sha[:12]}",
            "size": len(data),
            "url": f"{self._repo_url}/git/blobs/{sha}",
            "content": wrapped,
            "encoding": "base64",
        }

    def _post_blob(self, *, body: Any, **_: Any) -> tuple[int, Any]:
        content, enc = body.get("content"), body.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise _HTTPError(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
        if enc == "base64":
            try:
                data = base64.b64decode(content, validate=False)
            except ValueError as exc:
                raise _HTTPError(422, "Invalid Base64 content") from exc
        elif enc in ("utf-8", "utf8"):
            data = content.encode()
        else:
            raise _HTTPError(422, f"encoding must be one of utf-8 or base64, not {enc}")
        sha = self._store_blob(data)
        return 201, {"url": f"{self._repo_url}/git/blobs/{sha}", "sha": sha}

    def _find_workflow(self, id_or_file: str) -> _Workflow:
        for wf in self._workflows.values():
            if id_or_file in (wf.file, str(wf.id)):
                return wf
        raise _HTTPError(404, "Not Found")

    def _get_workflow(self, id_or_file: str, **_: Any) -> tuple[int, Any]:
        return 200, self._workflow_json(self._find_workflow(id_or_file))

    def _put_workflow_state(self, id_or_file: str, action: str, **_: Any) -> tuple[int, Any]:
        self._find_workflow(id_or_file).state = "active" if action == "enable" else "disabled_manually"
        return 204, None

    def _post_dispatch(self, id_or_file: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        wf = self._find_workflow(id_or_file)
        ref = body.get("ref")
        if not isinstance(ref, str):
            raise _HTTPError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
        branch = ref.removeprefix("refs/heads/")
        if branch not in self._refs:
            raise _HTTPError(422, f"No ref found for: {ref}")
        if not wf.dispatchable:
            raise _HTTPError(422, "Workflow does not have 'workflow_dispatch' trigger")
        if wf.state != "active":
            raise _HTTPError(422, "Cannot trigger a 'workflow_dispatch' on a disabled workflow")
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict) or len(inputs) > 25:
            raise _HTTPError(422, "inputs must be an object with at most 25 properties")
        self.dispatches.append({"workflow": wf.file, "ref": ref, "inputs": dict(inputs)})
        self._add_run(wf, branch, "workflow_dispatch", "queued", None)
        return 204, None

    def _get_runs(self, id_or_file: str, *, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        runs = self._find_workflow(id_or_file).runs
        if "branch" in query:
            runs = [r for r in runs if r["head_branch"] == query["branch"]]
        if "event" in query:
            runs = [r for r in runs if r["event"] == query["event"]]
        if "status" in query:
            # GitHub's "status" filter takes a status or a conclusion.
            runs = [r for r in runs if query["status"] in (r["status"], r["conclusion"])]
        per_page = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        return 200, {"total_count": len(runs), "workflow_runs": runs[(page - 1) * per_page : page * per_page]}

    def _get_public_key(self, **_: Any) -> tuple[int, Any]:
        key = self._private_key.public_key.encode(encoding.Base64Encoder).decode()
        return 200, {"key_id": self.secrets_key_id, "key": key}

    def _put_secret(self, name: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name.upper().startswith("GITHUB_"):
            raise _HTTPError(
                422,
                "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). "
                "Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or underscores (_).",
            )
        if body.get("key_id") != self.secrets_key_id or not isinstance(body.get("encrypted_value"), str):
            raise _HTTPError(422, "Bad request: key_id does not match the repository public key")
        created = name not in self.secrets
        self.secrets[name] = {"encrypted_value": body["encrypted_value"], "key_id": body["key_id"]}
        return (201, {}) if created else (204, None)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 front of a :class:`GitHubStandIn` (set as the ``standin`` class attribute)."""

    standin: GitHubStandIn
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms a request.
    disable_nagle_algorithm = True
    # An idle keep-alive connection is dropped after this many seconds.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log is ``standin.requests``."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        status: int
        payload: Any
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            status, payload = 400, {"message": "Problems parsing JSON", "documentation_url": _DOCS}
        else:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() not in ("token", "bearer") or token != self.standin.token:
                status, payload = 401, {"message": "Bad credentials", "documentation_url": _DOCS, "status": "401"}
            else:
                try:
                    status, payload = self.standin._handle(method, parsed.path, query, body)
                except _HTTPError as exc:
                    status = exc.status
                    payload = {"message": exc.message, "documentation_url": _DOCS, "status": str(exc.status)}
                self.standin.requests.append(LoggedRequest(method, parsed.path, query, body, status))
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("X-RateLimit-Reset", str(int(datetime.now(UTC).timestamp()) + 3600))
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        if self.standin.oauth_scopes is not None:
            self.send_header("X-OAuth-Scopes", self.standin.oauth_scopes)
        self.end_headers()
        self.wfile.write(data)
