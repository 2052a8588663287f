"""``hf://OWNER/REPO[@REVISION]/PATH`` specs, resolved through the Hugging Face hub cache.

Shared by checkpoints and vocoder weights. A cached file is used without touching the network
(the hub would otherwise retry for about half a minute on a machine without one); only a
missing file is downloaded, and failing that the error says how to fill the cache by hand.
"""

from __future__ import annotations

from pathlib import Path

HF_PREFIX = "hf://"


class HubError(ValueError):
    """An ``hf://`` spec that is malformed, or a file that is neither cached nor downloadable."""


def is_hf_spec(spec: object) -> bool:
    return isinstance(spec, str) and spec.startswith(HF_PREFIX)


def hf_download(spec: str, cache_dir: str | Path | None = None) -> Path:
    """Local path of the file named by ``spec`` (cache first, then the hub)."""
    parts = spec[len(HF_PREFIX) :].split("/", 2)
    if len(parts) != 3 or not all(parts):
        raise HubError(f"expected hf://OWNER/REPO[@REVISION]/PATH/IN/REPO, got {spec!r}")
    owner, repo, filename = parts
    repo, _, revision = repo.partition("@")
    repo_id = f"{owner}/{repo}"
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    def download(local_files_only: bool) -> Path:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision or None,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
        )
        return Path(path)

    try:
        return download(local_files_only=True)
    except (EntryNotFoundError, OSError):
        pass
    try:
        return download(local_files_only=False)
    except (EntryNotFoundError, HfHubHTTPError, OSError) as exc:
        cache = cache_dir or constants.HF_HUB_CACHE
        rev = f" --revision {revision}" if revision else ""
        raise HubError(
            f"{spec}: {filename} of {repo_id} is not in the local Hugging Face cache ({cache}) "
            f"and could not be downloaded ({type(exc).__name__}). On a machine with network run "
            f"`hf download {repo_id} {filename}{rev} --cache-dir {cache}` and copy that cache "
            "here (point HF_HUB_CACHE or cache_dir at it), or pass a local file path instead."
        ) from exc
