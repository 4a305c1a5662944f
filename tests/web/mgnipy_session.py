"""A user's session with EBI's own client, mgnipy 0.3.0, pointed at our server by its base_url.

Run by `test_mgnipy.py` with the Python of `.venv-mgnipy` (mgnipy and its dependencies live in a
venv of their own, unchanged, as a user would install them):
`python mgnipy_session.py BASE_URL PUBLIC_STUDY PRIVATE_STUDY`, with BASE_URL also in the
environment (mgnipy 0.3.0 counts a list's items through a client made from its default
settings, which read BASE_URL, not the MGnipy's base_url) and the Webin credentials of the
private study's owner in MGNIPY_WEBIN_USER / MGNIPY_WEBIN_PASSWORD. Prints one JSON object of
what the client saw.

Two layers of mgnipy are used: its high-level `MGnipy` (listing, a study, token handling) and
its generated client `emgapi_v2_client`, whose models parse every response strictly (a missing
required field raises).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def main(base_url: str, public_study: str, private_study: str) -> dict:
    from mgnipy import MGnipy
    from mgnipy.emgapi_v2_client import Client
    from mgnipy.emgapi_v2_client.api.analyses import (
        analysis_get_mgnify_analysis_with_annotations as with_annotations,
    )
    from mgnipy.emgapi_v2_client.api.analyses import (
        analysis_get_mgnify_analysis_with_annotations_of_type as annotations_of_type,
    )
    from mgnipy.emgapi_v2_client.api.analyses import get_mgnify_analysis
    from mgnipy.emgapi_v2_client.api.authentication import token_obtain_sliding
    from mgnipy.emgapi_v2_client.api.private_data import list_private_mgnify_studies
    from mgnipy.emgapi_v2_client.api.studies import (
        get_mgnify_study,
        list_mgnify_studies,
        list_mgnify_study_analyses,
    )
    from mgnipy.emgapi_v2_client.models import (
        AnalysisGetMgnifyAnalysisWithAnnotationsOfTypeMGnifyFunctionalAnalysisAnnotationType as T,
    )
    from mgnipy.emgapi_v2_client.models import WebinTokenRequest

    seen: dict = {}
    cache = tempfile.mkdtemp(prefix="mgnipy-cache-")

    # 1. Anonymous, high level: list studies.
    mg = MGnipy(base_url=base_url, cache_dir=cache)
    studies = mg.studies()
    seen["listed_studies"] = sorted(item["accession"] for item in studies.page(1))
    seen["studies_count"] = studies.count
    detail = mg.study(public_study)
    detail.get()
    seen["high_level_study_downloads"] = [d["alias"] for d in detail.downloads or []]

    # 2. Anonymous, generated client (strict models): a study, its analyses, annotations, downloads.
    client = Client(base_url=base_url, raise_on_unexpected_status=True)
    listed = list_mgnify_studies.sync(client=client, page=1, page_size=10)
    seen["generated_list_count"] = listed.count
    study = get_mgnify_study.sync(public_study, client=client)
    seen["study"] = {"accession": study.accession, "title": study.title}
    seen["study_downloads"] = [d.alias for d in study.downloads]
    analyses = list_mgnify_study_analyses.sync(public_study, client=client)
    seen["analyses"] = [a.accession for a in analyses.items]
    details = []
    for a in analyses.items:
        detail = get_mgnify_analysis.sync(a.accession, client=client)
        annotated = with_annotations.sync(a.accession, client=client)
        typed = annotations_of_type.sync(a.accession, T.TAXONOMIES_SSU, client=client)
        details.append(
            {
                "accession": detail.accession,
                "pipeline_version": str(detail.pipeline_version),
                "downloads": [
                    {"alias": d.alias, "url": d.url, "file_type": str(d.file_type)}
                    for d in detail.downloads
                ],
                "annotation_types": sorted(annotated.annotations.additional_properties),
                "taxonomies_ssu_count": typed.count,
            }
        )
    seen["analysis_details"] = details

    # 3. Anonymous: the private study is missing.
    hidden = get_mgnify_study.sync_detailed(
        private_study, client=Client(base_url=base_url, raise_on_unexpected_status=False)
    )
    seen["private_study_anonymous_status"] = int(hidden.status_code)

    # 4. The owner, with Webin credentials: a sliding token from mgnipy's own auth call, then
    # MGnipy with that token (it verifies it at /auth/verify before use). mgnipy 0.3.0's
    # `mg_user`/`mg_password` path cannot be used with any server: its obtain_auth_token calls
    # `.get("token")` on the parsed WebinTokenResponse model (AttributeError).
    login = token_obtain_sliding.sync(
        client=Client(base_url=base_url, raise_on_unexpected_status=True),
        body=WebinTokenRequest(
            username=os.environ["MGNIPY_WEBIN_USER"], password=os.environ["MGNIPY_WEBIN_PASSWORD"]
        ),
    )
    seen["token_type"] = login.token_type
    owner = MGnipy(base_url=base_url, cache_dir=cache, auth_token=login.token)
    seen["owner_has_token"] = bool(owner.config.auth_token)
    authed = owner.client
    mine = list_private_mgnify_studies.sync(client=authed)
    seen["my_studies"] = [s.accession for s in mine.items]
    private = get_mgnify_study.sync(private_study, client=authed)
    seen["private_study"] = {"accession": private.accession, "title": private.title}
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
