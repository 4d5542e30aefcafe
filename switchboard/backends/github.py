"""The data tree in a GitHub repository, read and written through GitHub's REST API (no clone).

This is the only module that imports PyGithub; load it lazily
(``from switchboard.backends.github import GitHubBackend`` inside the code path
that needs it) so the rest of the package works without it.

How it talks to GitHub, and what each call costs:

- ``refresh()``: ``GET /repos/{o}/{r}/branches/{b}`` (head commit and its tree
  sha in one answer) and ``GET …/git/trees/{tree}?recursive=1`` — two requests
  however many files there are, plus ``GET /repos/{o}/{r}`` once when the
  branch is "the default branch". GitHub truncates a recursive listing past
  100,000 entries or 7 MB; then the tree is walked one level at a time
  (``GET …/git/trees/{sha}`` for each directory that is itself too big),
  which is slower but complete.
- ``read(path)``: ``GET …/git/blobs/{sha}``, cached by blob sha, so an
  unchanged file is fetched once per process. ``list(prefix)``: no request.
- ``commit(changes, message)``: the Git Data API — ``POST …/git/trees`` with
  ``base_tree`` = the head tree we read and one entry per change (text
  content inline, ``sha: null`` to delete), ``POST …/git/commits`` with the
  head we read as the only parent, then ``PATCH …/git/refs/heads/{b}`` with
  ``force: false``. GitHub refuses that last step with 422 "Update is not a
  fast forward" when someone else moved the branch since we read it; that
  refusal is our compare-and-swap: we refresh and return False. Content that
  is not UTF-8 text goes up first as a blob (``POST …/git/blobs``, base64).
  Text goes inline because every request costs: GitHub asks for a pause of a
  second between writes and rate-limits content creation, and the data tree
  is Fernet tokens, which are ASCII.

The backend is not thread-safe: one instance per thread of work.
"""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from github import Auth, Consts, Github, GithubException, RateLimitExceededException
from github.GitCommit import GitCommit
from github.GitTree import GitTree
from github.InputGitTreeElement import InputGitTreeElement

from switchboard.backends.base import Changes, off_machine_host
from switchboard.exceptions import BackendError, ConfigError, GitHubError

#: ``owner/name`` as GitHub allows them (owner: 39 of [A-Za-z0-9-]; name: 100 of [A-Za-z0-9._-]).
_REPO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")

DEFAULT_BASE_URL = Consts.DEFAULT_BASE_URL


def git_blob_sha(content: bytes) -> str:
    """The sha git (and so GitHub) gives a blob with this content."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _inline_text(content: bytes) -> str | None:
    """``content`` as a str safe to send inline in a tree entry, or None to send it as a blob."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # A NUL survives JSON but not every GitHub text path; binary-looking content goes as a blob.
    return None if "\0" in text else text


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise BackendError(f"refusing to write {path!r}: paths are relative POSIX paths like data/results/…")


class GitHubSession:
    """One authenticated PyGithub connection to a repository, with GitHub's errors turned into ours.

    The storage backend (``GitHubBackend``) and the Actions client
    (``switchboard.actions.client``) both talk through one of these.
    """

    def __init__(
        self,
        repo: str,
        token: str,
        *,
        branch: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        per_page: int = 30,
        timeout: int = 15,
        retries: int = 2,
        seconds_between_writes: float | None = 1.0,
    ) -> None:
        """Point at ``repo`` ("owner/name") on ``branch`` (None: the repository's default branch).

        No request is made here. ``retries`` applies to connection failures
        (and reads of idempotent requests) only. ``seconds_between_writes`` is
        GitHub's own advice for consecutive POST/PATCH/PUT requests; tests
        against a local stand-in set it to None.
        """
        if not _REPO_RE.fullmatch(repo):
            raise ConfigError(
                f'"{repo}" is not a GitHub repository name — give it as owner/name, e.g. octo/my-switchboard'
            )
        if not token:
            raise ConfigError(f"no GitHub token — set GITHUB_TOKEN to a token with contents:write on {repo}")
        self.repo = repo
        self.branch_name = branch
        self.base_url = base_url.rstrip("/")
        # Kept only to scrub it out of any error text that might echo it.
        self._scrub_value = token
        self.gh = Github(
            auth=Auth.Token(token),
            base_url=self.base_url,
            timeout=timeout,
            per_page=per_page,
            retry=retries,
            seconds_between_requests=None,
            seconds_between_writes=seconds_between_writes,
            # Lazy: objects are addressed by URL and fetched only when an attribute needs it,
            # so get_repo/get_workflow cost nothing and each call below is one request.
            lazy=True,
        )
        #: The repository as PyGithub addresses it (lazy: no request until an attribute needs one).
        self.api = self.gh.get_repo(repo)

    @property
    def branch(self) -> str:
        """The branch written to; the repository's default branch is looked up once when none was given."""
        if self.branch_name is None:
            with self.calling(f"reading repository {self.repo}"):
                self.branch_name = self.api.default_branch
        return self.branch_name

    @contextmanager
    def calling(
        self, action: str, hints: Mapping[int, str] | None = None, reraise: tuple[int, ...] = ()
    ) -> Iterator[None]:
        """Translate PyGithub's and the network's errors during ``action`` into GitHubError."""
        try:
            yield
        except GithubException as exc:
            if exc.status in reraise:
                raise
            raise self.error(exc, action, hints or {}) from exc
        except OSError as exc:  # requests' ConnectionError, Timeout… are OSErrors
            host = urllib.parse.urlsplit(self.base_url).netloc
            text = f"{action} failed: could not reach GitHub at {host} ({type(exc).__name__})"
            raise GitHubError(self.scrub(f"{text} — check the network and try again")) from exc

    def error(self, exc: GithubException, action: str, hints: Mapping[int, str]) -> GitHubError:
        """Our error for a GitHub answer to ``action``, with the hint for its status when there is one."""
        status = exc.status
        detail = _detail(exc)
        said = f"GitHub answered {status}" + (f" ({detail})" if detail else "")
        if status == 401:
            text = f"GitHub rejected the token (401) — check GITHUB_TOKEN has contents:write on {self.repo}"
        elif isinstance(exc, RateLimitExceededException) or status == 429:
            text = f"{action} failed: {said} — GitHub's rate limit is used up; wait for it to reset and try again"
        elif hints.get(status):
            text = f"{action} failed: {said} — {hints[status]}"
        elif status == 403:
            text = f"{action} failed: {said} — check GITHUB_TOKEN has contents:write on {self.repo}"
        elif status == 404:
            text = f"{action} failed: {said} — check that {self.repo} exists and GITHUB_TOKEN can see it"
        elif status == 409:
            text = f"{action} failed: {said} — if {self.repo} is empty, push a first commit to it"
        elif status >= 500:
            text = f"{action} failed: {said} — GitHub had a problem; try again in a minute"
        else:
            text = f"{action} failed: {said}"
        return GitHubError(self.scrub(text))

    def scrub(self, text: str) -> str:
        """``text`` with the token blanked out."""
        return text.replace(self._scrub_value, "***")

    def close(self) -> None:
        """Close the HTTP connections."""
        self.gh.close()


class GitHubBackend:
    """A GitHub repository branch as a Backend, through the REST API with PyGithub."""

    def __init__(self, session: GitHubSession) -> None:
        """The data tree of ``session.repo`` on ``session.branch`` (no request is made here)."""
        self.session = session
        self.repo = session.repo
        self._head: str | None = None
        self._tree: GitTree | None = None
        self._files: dict[str, str] = {}  # path -> blob sha
        self._blobs: dict[str, bytes] = {}  # blob sha -> content

    # -- Backend -------------------------------------------------------------------

    @property
    def object_format(self) -> str:
        """GitHub names objects with SHA-1."""
        return "sha1"

    @property
    def has_remote(self) -> bool:
        """Always: every commit is written on GitHub."""
        return True

    @property
    def root(self) -> None:
        """No local clone."""
        return None

    def remote_host(self) -> str | None:
        """The machine that stores the commits (the API's host); None when it is this machine."""
        return off_machine_host(self.session.base_url)

    def describe(self) -> str:
        """``GitHub repository owner/name, branch main``; never the token, and no request."""
        base_url = self.session.base_url
        where = "" if base_url == DEFAULT_BASE_URL else f" at {urllib.parse.urlsplit(base_url).netloc}"
        branch = f"branch {self.session.branch_name}" if self.session.branch_name else "default branch"
        return f"GitHub repository {self.repo}{where}, {branch}"

    @property
    def branch(self) -> str:
        """The branch written to (the session's)."""
        return self.session.branch

    @property
    def head(self) -> str | None:
        """The commit sha of the current view (None before the first refresh)."""
        return self._head

    def refresh(self) -> None:
        """Read the branch head and its whole file list: two requests, whatever the file count."""
        branch = self.branch
        with self.session.calling(f"reading branch {branch} of {self.repo}", {404: self._branch_hint(branch)}):
            head = self.session.api.get_branch(branch).commit
            tree_sha = head.commit.tree.sha
            tree, files = self._read_tree(tree_sha)
        self._head, self._tree, self._files = head.sha, tree, files
        live = set(files.values())
        self._blobs = {sha: data for sha, data in self._blobs.items() if sha in live}

    def read(self, path: str) -> bytes | None:
        """The content of ``path`` in the current view, or None; one request per unseen blob."""
        self._ensure_view()
        sha = self._files.get(path)
        if sha is None:
            return None
        if sha not in self._blobs:
            with self.session.calling(f"reading {path} from {self.repo}"):
                blob = self.session.api.get_git_blob(sha)
                raw = blob.content or ""
                data = base64.b64decode(raw) if blob.encoding == "base64" else raw.encode("utf-8")
            self._blobs[sha] = data
        return self._blobs[sha]

    def children(self, prefix: str) -> list[str]:
        """The names directly below the directory ``prefix`` (files and folders), sorted; no request."""
        self._ensure_view()
        base = prefix.strip("/") + "/"
        return sorted({p[len(base) :].split("/", 1)[0] for p in self._files if p.startswith(base)})

    def blob_ids(self, prefix: str) -> dict[str, str]:
        """The git blob id of every file below ``prefix``; no request."""
        self._ensure_view()
        base = prefix.strip("/") + "/"
        return {p: sha for p, sha in self._files.items() if p.startswith(base)}

    def list(self, prefix: str) -> list[str]:
        """Every file path below the directory ``prefix``, sorted; no request."""
        self._ensure_view()
        base = prefix.strip("/")
        if not base:
            return sorted(self._files)
        return sorted(p for p in self._files if p.startswith(base + "/"))

    def commit(self, changes: Changes, message: str) -> bool:
        """Commit ``changes`` on top of the view and move the branch; False if the branch moved first.

        One commit and one ref update per call. Deleting a path that is not in
        the view (GitHub would refuse it) and writing a file's current content
        are no-ops; when nothing is left to change, no commit is made and the
        answer is True, as with the git backend.
        """
        for path in changes:
            _check_path(path)  # before any request, so a bad path leaves nothing behind
        self._ensure_view()
        assert self._head is not None and self._tree is not None
        entries: list[InputGitTreeElement] = []
        after = dict(self._files)
        written: dict[str, bytes] = {}
        with self.session.calling(f"committing to {self.repo}"):
            for path, content in sorted(changes.items()):
                if content is None:
                    if path in self._files:
                        entries.append(InputGitTreeElement(path, "100644", "blob", sha=None))
                        del after[path]
                    continue
                if self._files.get(path) == git_blob_sha(content):
                    continue  # unchanged: like git, no empty commit for it
                text = _inline_text(content)
                if text is not None:
                    entries.append(InputGitTreeElement(path, "100644", "blob", content=text))
                    sha = git_blob_sha(content)
                else:
                    blob = self.session.api.create_git_blob(base64.b64encode(content).decode("ascii"), "base64")
                    sha = blob.sha
                    entries.append(InputGitTreeElement(path, "100644", "blob", sha=sha))
                after[path] = sha
                written[sha] = content
            if not entries:
                return True
            tree = self.session.api.create_git_tree(entries, base_tree=self._tree)
            # A reference to the head we read, built without the GET that get_git_commit would cost.
            parent = GitCommit(
                self.session.gh.requester,
                attributes={"sha": self._head},
                url=f"{self.session.api.url}/git/commits/{self._head}",
                completed=False,
            )
            new = self.session.api.create_git_commit(message, tree, [parent])
        if not self._move_branch(self._head, new.sha):
            return False  # _move_branch has refreshed the view
        # The branch now points at our commit: that is the new view, no need to read it back.
        self._head, self._tree, self._files = new.sha, tree, after
        self._blobs.update(written)
        return True

    def can_write(self) -> bool:
        """Whether the token may push to the repository, as far as GitHub tells.

        Reads ``permissions`` of ``GET /repos/{o}/{r}`` (one request) and, for a
        classic token, its ``X-OAuth-Scopes``. For a fine-grained token GitHub
        reports the *user's* role there, not what the token was granted, so
        True is "probably": the first commit is the real test.
        """
        with self.session.calling(f"reading repository {self.repo}"):
            repo = self.session.gh.get_repo(self.repo)  # a fresh object, so the answer is not cached
            perms = repo.permissions
            private = repo.private
            if self.session.branch_name is None:
                self.session.branch_name = repo.default_branch
        scopes = self.session.gh.oauth_scopes
        if scopes is not None and "repo" not in scopes and (private or "public_repo" not in scopes):
            return False
        return bool(perms.push or perms.maintain or perms.admin)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    # -- internals -----------------------------------------------------------------

    def _ensure_view(self) -> None:
        if self._head is None:
            self.refresh()

    def _read_tree(self, tree_sha: str) -> tuple[GitTree, dict[str, str]]:
        """The root tree and ``path -> blob sha`` below it: one request unless GitHub truncates."""
        root = self.session.api.get_git_tree(tree_sha, recursive=True)
        if not root.truncated:
            return root, {e.path: e.sha for e in root.tree if e.type == "blob"}
        files: dict[str, str] = {}
        self._walk(tree_sha, "", files)
        return root, files

    def _walk(self, tree_sha: str, prefix: str, files: dict[str, str]) -> None:
        """Fill ``files`` below a tree too big for one recursive listing, a directory at a time."""
        level = self.session.api.get_git_tree(tree_sha)
        if level.truncated:
            raise GitHubError(
                f"GitHub truncated the listing of directory {prefix or '/'} in {self.repo} — "
                "it has more entries than GitHub lists at once"
            )
        for entry in level.tree:
            if entry.type == "blob":
                files[prefix + entry.path] = entry.sha
            elif entry.type == "tree":
                sub = self.session.api.get_git_tree(entry.sha, recursive=True)
                if sub.truncated:
                    self._walk(entry.sha, f"{prefix}{entry.path}/", files)
                else:
                    files.update({f"{prefix}{entry.path}/{e.path}": e.sha for e in sub.tree if e.type == "blob"})

    def _move_branch(self, old_head: str, new_head: str) -> bool:
        """Fast-forward the branch from ``old_head`` to ``new_head``; False when someone else moved it first.

        GitHub's answer to a lost race is 422 "Update is not a fast forward"
        (sometimes "Reference cannot be updated"), and a timeout leaves us not
        knowing. In those cases the branch itself tells: read it again — our
        commit there means it landed, another head means we lost.
        """
        action = f"moving branch {self.branch} of {self.repo}"
        # Not GitRef.edit(): a lazy GitRef from get_git_ref() carries the GET URL
        # (…/git/ref/heads/…) and would PATCH there; updates go to …/git/refs/heads/….
        url = f"{self.session.api.url}/git/refs/heads/{urllib.parse.quote(self.branch)}"
        failure: Exception
        try:
            self.session.gh.requester.requestJsonAndCheck("PATCH", url, input={"sha": new_head, "force": False})
            return True
        except GithubException as exc:
            if exc.status != 422:
                raise self.session.error(exc, action, {}) from exc
            failure = exc
        except OSError as exc:
            failure = exc
        self.refresh()
        if self._head == new_head:
            return True
        said = _detail(failure) if isinstance(failure, GithubException) else ""
        if self._head != old_head or "fast forward" in said.lower():
            return False
        if isinstance(failure, GithubException):
            raise self.session.error(failure, action, {}) from failure
        text = f"{action} failed: no answer from GitHub ({type(failure).__name__}) and the branch did not move"
        raise GitHubError(self.session.scrub(f"{text} — try again")) from failure

    def _branch_hint(self, branch: str) -> str:
        return f"check that {self.repo} exists, has a branch {branch}, and GITHUB_TOKEN can see it"


def _detail(exc: GithubException) -> str:
    """GitHub's ``message`` of an error answer, or ''."""
    if exc.message:
        return exc.message
    if isinstance(exc.data, dict):
        return str(exc.data.get("message") or "")
    return ""
