"""ENA Portal API client: study, samples and read runs of a study, validated by pydantic.

Retries (5xx, 429, timeouts; Retry-After honoured) come from urllib3's Retry, which is well
tested and already a dependency of requests. Fields are checked against `returnFields` once per
client, because ENA drops fields under its clients (nf-core/fetchngs#372).

Private studies: ENA shows a private study (its samples and runs) only to the data-hub (DCC)
account that holds it, with HTTP Basic auth; anonymously it does not exist (an empty result).
The Portal API requests of a private study carry the data hub's credentials (`ena.dcc_username`
or MGNIFY_ENA_DCC_USERNAME, password only from MGNIFY_ENA_DCC_PASSWORD); those of a public study
never carry any. FASTQ downloads never send them (the project's ENA mirror serves every
file to everybody; ENA's private data-hub files would need them: not done).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..config import EnaSettings
from .models import EnaRun, EnaSample, EnaStudy

log = logging.getLogger(__name__)

STUDY_FIELDS = [
    "study_accession",
    "secondary_study_accession",
    "study_title",
    "study_description",
    "center_name",
    "study_name",
    "first_public",
]
SAMPLE_FIELDS = [
    "sample_accession",
    "secondary_sample_accession",
    "sample_title",
    "sample_alias",
    "scientific_name",
    "tax_id",
    "lat",
    "lon",
    "collection_date",
    "country",
    "location",
    "depth",
    "temperature",
    "environment_biome",
    "environment_feature",
    "environment_material",
    "host_tax_id",
    "host_scientific_name",
]
RUN_FIELDS = [
    "run_accession",
    "sample_accession",
    "study_accession",
    "secondary_study_accession",
    "secondary_sample_accession",
    "sample_title",
    "library_strategy",
    "library_source",
    "library_layout",
    "instrument_platform",
    "instrument_model",
    "scientific_name",
    "read_count",
    "base_count",
    "fastq_ftp",
    "fastq_md5",
    "fastq_bytes",
    "host_tax_id",
    "host_scientific_name",
]
# Without these a record is useless; the others are dropped (and named) if ENA stops serving them.
REQUIRED = {
    "study": {"study_accession", "secondary_study_accession", "study_title"},
    "sample": {"sample_accession"},
    "read_run": {
        "run_accession",
        "sample_accession",
        "library_strategy",
        "library_source",
        "fastq_ftp",
        "fastq_md5",
    },
}
SAMPLE_CHUNK = 100
RETRY_ON = (429, 500, 502, 503, 504)
#: What ENA answers to credentials it does not accept.
REFUSED = (401, 403)


class EnaError(RuntimeError):
    """ENA could not be read; the message is one line naming the request."""


class StudyMetadata(BaseModel):
    """What ENA says about one study (written as `ena.json`).

    Eligibility is not stored here: it is decided from this and the study's current config, so a
    config edit never needs ENA again.
    """

    study: EnaStudy
    samples: list[EnaSample]
    runs: list[EnaRun]
    missing_fields: dict[str, list[str]] = {}
    # Records an earlier fetch listed and ENA no longer does: kept (the catalogue shows them
    # suppressed), never dropped. See `refreshed`.
    withdrawn_samples: list[EnaSample] = []
    withdrawn_runs: list[EnaRun] = []


def refreshed(old: StudyMetadata, new: StudyMetadata) -> StudyMetadata:
    """`new`, carrying over as withdrawn the samples and runs of `old` that ENA no longer lists."""
    runs = {r.run_accession for r in new.runs}
    samples = {s.sample_accession for s in new.samples}
    gone_runs = [r for r in old.runs + old.withdrawn_runs if r.run_accession not in runs]
    gone_samples = [
        s for s in old.samples + old.withdrawn_samples if s.sample_accession not in samples
    ]
    return new.model_copy(
        update={
            "withdrawn_runs": sorted(
                {r.run_accession: r for r in gone_runs}.values(), key=lambda r: r.run_accession
            ),
            "withdrawn_samples": sorted(
                {s.sample_accession: s for s in gone_samples}.values(),
                key=lambda s: s.sample_accession,
            ),
        }
    )


def make_session(settings: EnaSettings) -> requests.Session:
    retry = Retry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        backoff_factor=settings.backoff_seconds,
        status_forcelist=RETRY_ON,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "mgnify-snake (+https://github.com/)"
    return session


class EnaClient:
    def __init__(self, settings: EnaSettings, session: requests.Session | None = None):
        self.settings = settings
        self.base = settings.portal_url.rstrip("/")
        self.session = session or make_session(settings)
        self._return_fields: dict[str, set[str]] = {}
        self.missing_fields: dict[str, list[str]] = {}

    def dcc_auth(self, study: str) -> tuple[str, str]:
        """The data-hub credentials for private study `study`; a one-line EnaError without."""
        env_pw, env_user = self.settings.DCC_PASSWORD_ENV, self.settings.DCC_USERNAME_ENV
        if self.settings.dcc_account() is None:
            raise EnaError(
                f"private study {study}: no ENA data-hub (DCC) account to read it with:"
                f" set ena.dcc_username (or {env_user}) and {env_pw}"
            )
        credentials = self.settings.dcc_credentials()
        if credentials is None:
            raise EnaError(
                f"private study {study}: {env_pw} is not set (the password of ENA data-hub"
                f" account {self.settings.dcc_account()})"
            )
        return credentials

    def _get(
        self,
        endpoint: str,
        params: dict,
        auth: tuple[str, str] | None = None,
        study: str | None = None,
    ) -> requests.Response:
        """GET `endpoint`; `auth`: the data hub's credentials (for private `study` only)."""
        url = f"{self.base}/{endpoint}"
        what = f"ENA {endpoint} result={params.get('result')}"
        # no auth argument at all for a public study: its requests stay exactly as they were
        extra = {"auth": auth} if auth else {}
        try:
            resp = self.session.get(
                url, params=params, timeout=self.settings.timeout_seconds, **extra
            )
        except requests.exceptions.RetryError as e:
            raise EnaError(f"{what}: gave up after {self.settings.retries} retries ({e})") from None
        except requests.exceptions.RequestException as e:
            raise EnaError(f"{what}: {type(e).__name__}: {e}") from None
        if auth and resp.status_code in REFUSED:
            raise EnaError(
                f"private study {study}: ENA refused data-hub account {auth[0]}"
                f" (HTTP {resp.status_code}): check {self.settings.DCC_PASSWORD_ENV}"
                f" (and ena.dcc_username or {self.settings.DCC_USERNAME_ENV})"
            )
        if resp.status_code >= 400:
            retried = (
                f" (after {self.settings.retries} retries)" if resp.status_code in RETRY_ON else ""
            )
            raise EnaError(f"{what}: HTTP {resp.status_code}{retried}: {_message(resp.text)}")
        return resp

    def return_fields(self, result: str) -> set[str]:
        if result not in self._return_fields:
            resp = self._get("returnFields", {"result": result, "format": "json"})
            try:
                rows = resp.json()
                fields = {r["columnId"] for r in rows}
            except (ValueError, TypeError, KeyError):
                # ENA's default answer is TSV; accept it too.
                fields = {
                    row.get("columnId")
                    for row in csv.DictReader(io.StringIO(resp.text), delimiter="\t")
                }
                fields.discard(None)
            if not fields:
                raise EnaError(f"ENA returnFields result={result}: no fields in the answer")
            self._return_fields[result] = fields
        return self._return_fields[result]

    def checked_fields(self, result: str, wanted: list[str]) -> list[str]:
        """The wanted fields ENA still serves; a missing required one is an error."""
        available = self.return_fields(result)
        missing = [f for f in wanted if f not in available]
        if required := sorted(set(missing) & REQUIRED.get(result, set())):
            raise EnaError(
                f"ENA no longer serves required {result} field(s): {', '.join(required)}"
            )
        if missing:
            log.warning("ENA does not serve %s field(s) %s; continuing without", result, missing)
            self.missing_fields[result] = missing
        return [f for f in wanted if f in available]

    def search(
        self, result: str, query: str, fields: list[str], *, private_study: str | None = None
    ) -> list[dict]:
        """All records matching `query`, page by page (limit/offset). `private_study`: the
        records belong to this private study, asked for with the data hub's credentials."""
        auth = self.dcc_auth(private_study) if private_study else None
        fields = self.checked_fields(result, fields)
        size, offset, out = self.settings.page_size, 0, []
        while True:
            params = {
                "result": result,
                "query": query,
                "fields": ",".join(fields),
                "format": "json",
                "limit": size,
                "offset": offset,
            }
            resp = self._get("search", params, auth, private_study)
            page = _parse_records(resp.text, f"ENA search result={result} query={query}")
            out.extend(page)
            if len(page) < size:
                return out
            offset += size

    def study(self, accession: str, *, private: bool = False) -> EnaStudy:
        """The study; `private`: asked for with the data hub's credentials (only then)."""
        query = f'"(study_accession={accession} OR secondary_study_accession={accession})"'
        rows = self.search(
            "study", query, STUDY_FIELDS, private_study=accession if private else None
        )
        if not rows and private:
            raise EnaError(
                f"private study {accession}: ENA shows no such study to data-hub account"
                f" {self.settings.dcc_account()} (a private study is visible only to the data hub"
                " that holds it)"
            )
        if not rows:
            raise EnaError(f"ENA has no public study {accession}{self._private_hint()}")
        return _validate(EnaStudy, rows[0], f"study {accession}")

    def find_study(self, accession: str) -> tuple[EnaStudy, bool]:
        """(study, private) when the caller does not know whether it is private: asked for
        anonymously, then (if not found and a data hub is configured) with the data hub's
        credentials, as emgapi-v2 tells private from public."""
        query = f'"(study_accession={accession} OR secondary_study_accession={accession})"'
        if rows := self.search("study", query, STUDY_FIELDS):
            return _validate(EnaStudy, rows[0], f"study {accession}"), False
        if self.settings.dcc_credentials() is None:
            raise EnaError(f"ENA has no public study {accession}{self._private_hint()}")
        if rows := self.search("study", query, STUDY_FIELDS, private_study=accession):
            log.info(
                "%s is private: visible only to data-hub account %s",
                accession,
                self.settings.dcc_account(),
            )
            return _validate(EnaStudy, rows[0], f"study {accession}"), True
        raise EnaError(
            f"ENA has no study {accession}, public or visible to data-hub account"
            f" {self.settings.dcc_account()}"
        )

    def _private_hint(self) -> str:
        if self.settings.dcc_credentials() is not None:
            return ""
        return (
            f" (a private study is read with its data-hub account: is_private: true in its"
            f" study file, ena.dcc_username and {self.settings.DCC_PASSWORD_ENV})"
        )

    def runs(self, accession: str, *, private: bool = False) -> list[EnaRun]:
        query = f'"(study_accession={accession} OR secondary_study_accession={accession})"'
        rows = self.search(
            "read_run", query, RUN_FIELDS, private_study=accession if private else None
        )
        runs = [_validate(EnaRun, r, f"read_run of {accession}") for r in rows]
        return sorted(runs, key=lambda r: r.run_accession)

    def samples(
        self, accessions: Iterable[str], *, private_study: str | None = None
    ) -> list[EnaSample]:
        """Sample records; `private_study`: they belong to this private study."""
        accessions = sorted(set(accessions))
        # every field ENA serves for a sample (the catalogue keeps them all in `metadata`),
        # ours first
        fields = SAMPLE_FIELDS + sorted(self.return_fields("sample") - set(SAMPLE_FIELDS))
        out: list[EnaSample] = []
        for i in range(0, len(accessions), SAMPLE_CHUNK):
            chunk = accessions[i : i + SAMPLE_CHUNK]
            query = '"' + " OR ".join(f"sample_accession={a}" for a in chunk) + '"'
            rows = self.search("sample", query, fields, private_study=private_study)
            out.extend(_validate(EnaSample, r, "sample") for r in rows)
        found = {s.sample_accession for s in out}
        if missing := [a for a in accessions if a not in found]:
            raise EnaError(f"ENA has no sample record for {', '.join(missing[:5])}")
        return sorted(out, key=lambda s: s.sample_accession)


def fetch_study_metadata(
    client: EnaClient, accession: str, *, private: bool | None = None
) -> StudyMetadata:
    """Study, samples and read runs of one study from ENA.

    `private`: the study's config says `is_private` (True: every request carries the data hub's
    credentials; False: none does). None (the caller does not know): asked for anonymously
    first, then with the data hub's credentials if a data hub is configured (`find_study`).
    """
    if private is None:
        ena_study, private = client.find_study(accession)
    else:
        ena_study = client.study(accession, private=private)
    runs = client.runs(ena_study.accession, private=private)
    if not runs:
        raise EnaError(f"ENA lists no read runs for study {accession}")
    samples = client.samples(
        (r.sample_accession for r in runs), private_study=accession if private else None
    )
    return StudyMetadata(
        study=ena_study, samples=samples, runs=runs, missing_fields=client.missing_fields
    )


def _message(text: str) -> str:
    try:
        return str(json.loads(text).get("message", text))[:200]
    except (ValueError, AttributeError):
        return " ".join(text.split())[:200] or "(empty body)"


def _parse_records(text: str, what: str) -> list[dict]:
    if not text.strip():
        return []  # ENA answers an empty body when nothing matches
    try:
        data = json.loads(text)
    except ValueError:
        raise EnaError(f"{what}: malformed JSON body: {text[:80]!r}") from None
    if isinstance(data, dict) and "message" in data:
        raise EnaError(f"{what}: {data['message']}")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise EnaError(f"{what}: expected a JSON list of records, got {type(data).__name__}")
    return data


def _validate(model, row: dict, what: str):
    try:
        return model.model_validate(row)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(map(str, err["loc"]))
        raise EnaError(
            f"ENA {what}: field {field}: {err['msg']} (got {err.get('input')!r})"
        ) from None
