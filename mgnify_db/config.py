"""Config models: `config/config.yaml` (global) and `config/studies/<ACCESSION>.yaml` (one study).

The pydantic models are the single source of truth; `workflow/schemas/*.schema.json` are generated
from them (`mgnify-db config schema`) and a test checks they are up to date.
"""

from __future__ import annotations

import re
import types
import typing
from difflib import get_close_matches
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .jobs.memory import MemoryPolicy

STUDY_ACCESSION = re.compile(r"^(PRJ[EDN][A-Z]\d+|[EDS]RP\d{6,})$")
RUN_ACCESSION = re.compile(r"^[EDS]RR\d{6,}$")
COASSEMBLY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
LINEAGE = re.compile(r"^root(:[^:]+)*$")
WEBIN_ACCOUNT = re.compile(r"^webin-\d+$", re.IGNORECASE)
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


STUDY_SUFFIXES = (".yaml", ".yml")
# Keys of a rule's entry in config `resources:` (what mgnify_db.smk.resource reads).
RESOURCE_KEYS = ("mem_mb", "runtime")


class ConfigError(ValueError):
    """A config file is invalid; str() is one line naming the file, the field and the problem."""


class NestedError(ValueError):
    """A validator's problem deeper than its field: `loc` is appended to the field's path."""

    def __init__(self, loc: tuple[str, ...], message: str):
        super().__init__(message)
        self.loc = loc


def closest(name: str, choices: list[str]) -> str | None:
    """The choice `name` most likely meant: a near spelling, or the same words reordered."""
    if near := get_close_matches(name, choices, 1):
        return near[0]
    words = sorted(name.lower().replace("-", "_").split("_"))
    return next((c for c in choices if sorted(c.split("_")) == words), None)


def _leaf_types(annotation: Any) -> set[Any]:
    """The plain types an annotation accepts (through Annotated, Optional and unions)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _leaf_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_leaf_types(a) for a in typing.get_args(annotation)))
    return {annotation}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """pydantic reads `true` as 1 for a number: refuse it (a YAML slip, never meant)."""
        if isinstance(v, bool) and info.field_name:
            leaves = _leaf_types(cls.model_fields[info.field_name].annotation)
            if bool not in leaves and leaves & {int, float}:
                kind = "whole number" if int in leaves else "number"
                raise ValueError(f"must be a {kind}, not {str(v).lower()}")
        return v


class Analysis(StrEnum):
    """Analyses a study can ask for."""

    ASSEMBLY = "assembly"
    AMPLICON = "amplicon"
    RAW_READS = "raw-reads"


# The ENA library strategy of the runs each analysis takes (a study's default
# `library_strategies`).
ANALYSIS_STRATEGIES = {
    Analysis.ASSEMBLY: "WGS",
    Analysis.AMPLICON: "AMPLICON",
    Analysis.RAW_READS: "WGS",
}


class Assembler(StrEnum):
    """`assembler:` of a study. AUTO is MGnify's default: metaSPAdes for paired reads, MEGAHIT
    for single-end ones. metaSPAdes takes pairs only: a single-end run always goes to MEGAHIT."""

    MEGAHIT = "megahit"
    METASPADES = "metaspades"
    AUTO = "auto"


class StoreKind(StrEnum):
    """Where the catalogue lives: a SQLite file (the embedded default) or a PostgreSQL database."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class LibrarySourcePolicy(StrEnum):
    """Which ENA library sources count as metagenomic (as emgapi-v2's policies)."""

    ONLY_IF_METAGENOMIC_IN_ENA = "only_if_metagenomic_in_ena"
    OVERRIDE_GENOMIC_IF_METAGENOMIC_SCIENTIFIC_NAME = (
        "override_genomic_if_metagenomic_scientific_name"
    )
    OVERRIDE_ALL_TO_METAGENOMIC = "override_all_to_metagenomic"


class LibraryStrategyPolicy(StrEnum):
    ONLY_IF_CORRECT_IN_ENA = "only_if_correct_in_ena"
    ASSUME_OTHER_ALSO_MATCHES = "assume_other_also_matches"
    OVERRIDE_ALL = "override_all"


class EnaSettings(Strict):
    portal_url: str = Field(
        "https://www.ebi.ac.uk/ena/portal/api", description="ENA Portal API base URL"
    )
    download_scheme: str = Field(
        "https", description="scheme put in front of fastq_ftp host/path values (https or ftp)"
    )
    retries: Annotated[int, Field(ge=0, le=20)] = 4
    backoff_seconds: Annotated[float, Field(ge=0)] = 2.0
    timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    page_size: Annotated[int, Field(ge=1, le=100000)] = 1000
    download_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    webin_auth_url: str = Field(
        "https://www.ebi.ac.uk/ena/submit/webin/auth",
        description="ENA's Webin authentication service, which checks the Webin credentials of"
        " API logins (`mgnify-db serve`); MGNIFY_ENA_WEBIN_AUTH_URL overrides it",
    )
    dcc_username: str | None = Field(
        None,
        description="ENA data-hub (DCC) account that holds the private studies (is_private: true);"
        " its password is read only from MGNIFY_ENA_DCC_PASSWORD, and MGNIFY_ENA_DCC_USERNAME"
        " overrides this",
    )

    #: The data-hub password comes only from the environment; the name may be overridden there.
    DCC_PASSWORD_ENV: typing.ClassVar[str] = "MGNIFY_ENA_DCC_PASSWORD"
    DCC_USERNAME_ENV: typing.ClassVar[str] = "MGNIFY_ENA_DCC_USERNAME"

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_files(cls, data: Any) -> Any:
        for key in data if isinstance(data, dict) else ():
            if "password" in str(key).lower():
                raise NestedError(
                    (str(key),),
                    "passwords are never read from config files:"
                    f" set {cls.DCC_PASSWORD_ENV} in the environment",
                )
        return data

    @field_validator("download_scheme")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if v not in {"http", "https", "ftp"}:
            raise ValueError("must be one of http, https, ftp")
        return v

    def dcc_account(self, environ: typing.Mapping[str, str] | None = None) -> str | None:
        """The data-hub account name: MGNIFY_ENA_DCC_USERNAME, else `dcc_username`."""
        if environ is None:
            import os

            environ = os.environ
        return environ.get(self.DCC_USERNAME_ENV) or self.dcc_username

    def dcc_credentials(
        self, environ: typing.Mapping[str, str] | None = None
    ) -> tuple[str, str] | None:
        """(account, password) of the data hub, or None unless both are set."""
        if environ is None:
            import os

            environ = os.environ
        user, password = self.dcc_account(environ), environ.get(self.DCC_PASSWORD_ENV)
        return (user, password) if user and password else None


class QcGate(Strict):
    """The gates a run must pass to be assembled; a failing run is `qc_failed` with the reason."""

    min_reads: Annotated[int, Field(ge=0)] = Field(
        1000, description="reads left after fastp and after decontamination (both mates counted)"
    )
    max_filtered_fraction: Annotated[float, Field(ge=0, le=1)] = 0.9
    min_kept_ratio: Annotated[float, Field(ge=0, le=1)] = Field(
        0.1,
        description="fail if decontamination keeps less than this fraction of the reads"
        " (a sample that is mostly host)",
    )
    min_contigs: Annotated[int, Field(ge=0)] = Field(
        1,
        description="an assembly with fewer contigs (>= min_contig_len) fails its QC (MGnify"
        " asks 2 before submitting an assembly to ENA; a phage can assemble into one)",
    )


class FastpParams(Strict):
    extra: list[str] = Field(default_factory=list, description="extra fastp arguments")


class MegahitParams(Strict):
    k_list: str | None = Field("21,41,61,81,99", description="--k-list; null = MEGAHIT default")
    min_contig_len: Annotated[int, Field(ge=200)] = 500
    extra: list[str] = Field(default_factory=list)


class MetaspadesParams(Strict):
    k_list: str | None = Field(None, description="-k; null = metaSPAdes' default (21,33,55)")
    min_contig_len: Annotated[int, Field(ge=200)] = 500
    extra: list[str] = Field(default_factory=list)


class PfamParams(Strict):
    cutoff: typing.Literal["gathering", "evalue"] = Field(
        "gathering", description="the models' GA thresholds (Pfam's), or an E-value"
    )
    evalue: Annotated[float, Field(gt=0)] = 1e-5


class CmsearchParams(Strict):
    hmmonly: bool = Field(
        True,
        description="HMM-only search of the rRNA models (MGnify's choice: a full CM search"
        " of every contig is far slower for the same genes)",
    )


class SintaxParams(Strict):
    cutoff: Annotated[float, Field(ge=0, le=1)] = Field(
        0.8, description="bootstrap confidence a rank needs to be reported"
    )


# Primers of common marker-gene amplicons (EMP, Illumina, TAReuk, ITS): the default set
# amplicon runs are searched for. Names are how MGnify's primer-identification files call them.
FORWARD_PRIMERS = {
    "515F": "GTGYCAGCMGCCGCGGTAA",  # 16S V4 (Parada)
    "515F-orig": "GTGCCAGCMGCCGCGGTAA",  # 16S V4 (Caporaso)
    "341F": "CCTACGGGNGGCWGCAG",  # 16S V3-V4 (Klindworth)
    "27F": "AGAGTTTGATCMTGGCTCAG",  # 16S V1-V2
    "TAReuk454FWD1": "CCAGCASCYGCGGTAATTCC",  # 18S V4
    "1391F": "GTACACACCGCCCGTC",  # 18S V9
    "ITS1F": "CTTGGTCATTTAGAGGAAGTAA",  # ITS1
    "fITS7": "GTGARTCATCGAATCTTTG",  # ITS2
}
REVERSE_PRIMERS = {
    "806R": "GGACTACNVGGGTWTCTAAT",  # 16S V4 (Apprill)
    "806R-orig": "GGACTACHVGGGTWTCTAAT",  # 16S V4 (Caporaso)
    "785R": "GACTACHVGGGTATCTAATCC",  # 16S V3-V4 (Klindworth)
    "338R": "GCTGCCTCCCGTAGGAGT",  # 16S V1-V2
    "TAReukREV3": "ACTTTCGTTCTTGATYRA",  # 18S V4
    "EukBr": "TGATCCTTCTGCAGGTTCACCTAC",  # 18S V9
    "ITS2": "GCTGCGTTCTTCATCGATGC",  # ITS1
    "ITS4": "TCCTCCGCTTATTGATATGC",  # ITS2
}


class AmpliconParams(Strict):
    """Amplicon analysis: primers, merging, denoising (vsearch UNOISE3), taxonomy."""

    forward_primers: dict[str, str] = Field(
        default_factory=lambda: dict(FORWARD_PRIMERS),
        description="known forward primers (name -> IUPAC sequence) searched at the first"
        " mates' starts",
    )
    reverse_primers: dict[str, str] = Field(
        default_factory=lambda: dict(REVERSE_PRIMERS),
        description="known reverse primers searched at the second mates' starts",
    )
    min_primer_fraction: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="a primer is present when this share of the reads starts with it"
    )
    max_expected_errors: Annotated[float, Field(gt=0)] = Field(
        1.0, description="merged reads with more expected errors are dropped (vsearch maxee)"
    )
    min_length: Annotated[int, Field(ge=1)] = Field(
        100, description="shorter merged (or single-end) reads are dropped"
    )
    min_asv_size: Annotated[int, Field(ge=1)] = Field(
        8, description="UNOISE3 --minsize: reads an ASV needs (UNOISE3's default)"
    )
    unoise_alpha: Annotated[float, Field(gt=0)] = 2.0
    chimera_abskew: Annotated[float, Field(ge=1)] = Field(
        16.0, description="UCHIME3 --abskew: how much more abundant than a chimera its parents are"
    )
    asv_identity: Annotated[float, Field(gt=0, le=1)] = Field(
        0.97, description="a read counts for the ASV it matches best at this identity or more"
    )
    closed_reference_identity: Annotated[float, Field(gt=0, le=1)] = Field(
        0.97,
        description="closed-reference taxonomy: a read takes the lineage its best reference"
        " hits share at this identity or more; below, it is Unclassified",
    )
    closed_reference_agreement: Annotated[float, Field(gt=0, le=1)] = Field(
        0.6,
        description="a rank of a read's lineage is kept while this share of its best hits"
        " agree on it (1: every hit, the lowest common ancestor)",
    )
    asv_cutoff: Annotated[float, Field(ge=0, le=1)] = Field(
        0.6,
        description="SINTAX confidence a rank of an ASV's lineage needs (lower than whole"
        " genes' 0.8: a 250 bp region carries less signal)",
    )
    min_reads: Annotated[int, Field(ge=0)] = Field(
        500, description="fewer reads left after merging and filtering fail the run's analysis"
    )

    @field_validator("forward_primers", "reverse_primers")
    @classmethod
    def _primers(cls, v: dict[str, str]) -> dict[str, str]:
        from .tools.cutadapt import check_primer

        for name, seq in v.items():
            try:
                v[name] = check_primer(name, seq)
            except ValueError as e:
                raise NestedError((name,), str(e)) from None
        return v


class RawReadsParams(Strict):
    """Raw-reads analysis: rRNA reads, read taxonomy (kraken2), Pfam on reads."""

    rrna_identity: Annotated[float, Field(gt=0, le=1)] = Field(
        0.97,
        description="an SSU or LSU read takes the lineage of its best reference hits at this"
        " identity or more; below, it is Unclassified",
    )
    rrna_agreement: Annotated[float, Field(gt=0, le=1)] = Field(
        0.6, description="a rank is kept while this share of the best hits agree on it"
    )
    kraken2_confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        0.1, description="kraken2 --confidence for read pairs"
    )
    reestimate: bool = Field(
        True,
        description="reads kraken2 leaves above genus are shared among the genera below their"
        " taxon, in proportion to the reads assigned to those genera (Bracken's idea)",
    )
    min_orf_length: Annotated[int, Field(ge=10)] = Field(
        30, description="read translations (6 frames) shorter than this (aa) are not searched"
    )
    pfam_evalue: Annotated[float, Field(gt=0)] = Field(
        1e-5,
        description="Pfam on reads: domain E-value (Pfam's GA thresholds are set for whole"
        " domains; a read carries a fragment)",
    )


class Kraken2Params(Strict):
    confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        0.1,
        description="kraken2 --confidence: the share of a contig's k-mers that must support a"
        " call (0.1 keeps contigs of genomes absent from the database unclassified)",
    )


class Tools(Strict):
    fastp: FastpParams = FastpParams()
    megahit: MegahitParams = MegahitParams()
    metaspades: MetaspadesParams = MetaspadesParams()
    pfam: PfamParams = PfamParams()
    cmsearch: CmsearchParams = CmsearchParams()
    sintax: SintaxParams = SintaxParams()
    kraken2: Kraken2Params = Kraken2Params()
    amplicon: AmpliconParams = AmpliconParams()
    raw_reads: RawReadsParams = RawReadsParams()


class Threads(Strict):
    fastp: Annotated[int, Field(ge=1)] = 2
    decontamination: Annotated[int, Field(ge=1)] = 2
    megahit: Annotated[int, Field(ge=1)] = 2
    metaspades: Annotated[int, Field(ge=1)] = 2
    cds: Annotated[int, Field(ge=1)] = 2
    taxonomy: Annotated[int, Field(ge=1)] = 2
    amplicon: Annotated[int, Field(ge=1)] = 2
    raw_reads: Annotated[int, Field(ge=1)] = 2
    references: Annotated[int, Field(ge=1)] = 2


HEX = {"md5": re.compile(r"^[0-9a-f]{32}$"), "sha256": re.compile(r"^[0-9a-f]{64}$")}


class Source(Strict):
    """A reference file: a `url` (http, https, ftp or file) or a local `path` (relative to the
    working directory), with its checksum when known (checked after every fetch)."""

    url: str | None = None
    path: str | None = None
    sha256: str | None = None
    md5: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Source:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of url and path")
        if self.url is not None and not re.match(r"^(https?|ftp|file)://", self.url):
            raise NestedError(("url",), f"{self.url!r} is not an http(s), ftp or file URL")
        for name, pattern in HEX.items():
            value = getattr(self, name)
            if value is not None and not pattern.match(value):
                raise NestedError((name,), f"{value!r} is not a lowercase hex {name}")
        return self

    @property
    def location(self) -> str:
        return self.url or str(self.path)


class GenomeSource(Source):
    """A genome FASTA and the NCBI taxid its sequences get in a kraken2 database."""

    taxid: Annotated[int, Field(ge=1)]


class Kraken2Reference(Strict):
    """The contig- and read-taxonomy database, built by the rule `reference_kraken2` from
    `genomes` and `taxonomy` (a TSV taxid/parent/rank/name, or NCBI's taxdump .tar.gz)."""

    taxonomy: Source
    genomes: list[GenomeSource] = Field(min_length=1)


class DecontaminationReferences(Strict):
    """Host and contaminant genomes whose reads are removed before assembly."""

    genomes: dict[str, Source] = Field(
        default_factory=dict, description="name -> genome FASTA (hosts and contaminants)"
    )
    hosts: dict[str, list[str]] = Field(
        default_factory=dict,
        description="biome lineage prefix -> host genome names (the longest prefix of a study's"
        " biome wins; a study file's host_genomes overrides)",
    )
    contaminants: list[str] = Field(
        default_factory=list, description="genome names removed from every run (e.g. phiX)"
    )

    @model_validator(mode="after")
    def _known_names(self) -> DecontaminationReferences:
        for where, names in [("contaminants", self.contaminants), *self.hosts.items()]:
            for name in names:
                if name not in self.genomes:
                    loc = ("contaminants",) if where == "contaminants" else ("hosts", where)
                    raise NestedError(loc, f"{name!r} is not in decontamination.genomes")
        for prefix in self.hosts:
            if not LINEAGE.match(prefix):
                raise NestedError(
                    ("hosts", prefix), "not a biome lineage like root:Host-associated"
                )
        return self

    def for_biome(self, biome: str, override: list[str] | None = None) -> list[str]:
        """The genome names removed from a study's runs: its hosts (the override, else the
        longest matching biome prefix's), then the contaminants; sorted, without repeats."""
        hosts = override
        if hosts is None:
            matches = [p for p in self.hosts if biome == p or biome.startswith(p + ":")]
            hosts = self.hosts[max(matches, key=len)] if matches else []
        return sorted({*hosts, *self.contaminants})


class References(Strict):
    """Reference databases; each is a rule's output under <results_dir>/references/, built from
    these sources, so production swaps in Pfam-A, Rfam, SILVA or its own kraken2 genomes here."""

    pfam: Source = Source(
        url="https://ftp.ebi.ac.uk/pub/databases/Pfam/current_release/Pfam-A.hmm.gz"
    )
    rfam: Source = Field(
        Source(url="https://ftp.ebi.ac.uk/pub/databases/Rfam/CURRENT/Rfam.cm.gz"),
        description="covariance models; only the rRNA ones (SSU, LSU, 5S, 5.8S) are kept",
    )
    ssu: Source = Field(
        Source(url="https://www.drive5.com/sintax/rdp_16s_v18.fa.gz"),
        description="SSU sequences with lineages (SINTAX headers, or `>id Lineage;...` as"
        " microbiomeutil's gold 16S)",
    )
    lsu: Source | None = Field(
        None,
        description="LSU sequences with lineages, in the SSU reference's formats (SINTAX"
        " headers, or a tab-separated six-rank lineage; SILVA's own headers need converting);"
        " none: the raw-reads pipeline counts LSU reads but does not classify them",
    )
    kraken2: Kraken2Reference | None = Field(
        None,
        description="the contig- and read-taxonomy database (none: contigs and raw-reads'"
        " read pairs are not classified)",
    )
    decontamination: DecontaminationReferences = DecontaminationReferences()


# Start memory per assembler x biome (longest matching lineage prefix wins), as MGnify's heuristic;
# plus MB per Gbase of the run's reads. MEGAHIT's need grows with distinct k-mers, i.e. with
# community complexity (soil > marine > gut) and depth.
DEFAULT_MEMORY = MemoryPolicy(
    start_mb={
        "megahit": {
            "root": 2000,
            "root:Host-associated": 2000,
            "root:Environmental:Aquatic": 3000,
            "root:Environmental:Terrestrial": 6000,
            "root:Environmental:Terrestrial:Soil": 8000,
            "root:Engineered:Wastewater": 4000,
        },
        # metaSPAdes needs several times MEGAHIT's memory for the same reads
        "metaspades": {
            "root": 4000,
            "root:Environmental:Aquatic": 8000,
            "root:Environmental:Terrestrial": 24000,
            "root:Environmental:Terrestrial:Soil": 32000,
            "root:Engineered:Wastewater": 12000,
        },
    },
    per_gbase_mb=1000,
    growth=1.5,
)


class Publication(Strict):
    """A publication studies can cite (`publications:` in config.yaml, keyed by PubMed id)."""

    title: str
    published_year: Annotated[int, Field(ge=1800, le=2200)] | None = None
    doi: str | None = None
    authors: str | None = Field(None, description="authors as cited, e.g. 'Smith J, Doe A'")
    iso_journal: str | None = None
    volume: str | None = None
    pubmed_central_id: str | None = None


class SuperStudy(Strict):
    """A group of studies shown together (`super_studies:` in config.yaml, keyed by slug)."""

    title: str
    description: str | None = None
    logo_url: str | None = None
    flagship_studies: list[str] = Field(
        default_factory=list, description="ENA accessions of its flagship studies"
    )


class PublishSettings(Strict):
    """Where `publish` writes the public database and how download URLs are made."""

    public_db: str = Field("results/public.db", description="public, unsuppressed records only")
    catalogue_db: str = Field(
        "results/catalogue.db",
        description="with a PostgreSQL catalogue: the SQLite copy `publish` exports for curators"
        " (Datasette's catalogue.db); with SQLite the catalogue file itself is served",
    )
    files_url: str = Field(
        "/files",
        description="prefix of download URLs: <files_url>/<owner accession>/<alias>"
        " (a path served by `mgnify-db serve`, or an absolute URL of a file server)",
    )
    link_lifetime_seconds: Annotated[int, Field(ge=60)] = 3600


class GlobalConfig(Strict):
    """`config/config.yaml`."""

    results_dir: str = "results"
    studies_dir: str = "config/studies"
    catalogue: str = Field(
        "sqlite:///results/catalogue.db",
        description="catalogue URL: sqlite:///PATH, or postgresql://[USER@]HOST[:PORT]/DB"
        " (password from ~/.pgpass, PGPASSFILE or PGPASSWORD, never from this file)",
    )
    ena: EnaSettings = EnaSettings()
    qc: QcGate = QcGate()
    tools: Tools = Tools()
    threads: Threads = Threads()
    references: References = References()
    resources: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="rule -> {mem_mb, runtime}: start memory and minutes"
    )
    memory: MemoryPolicy = Field(
        default_factory=lambda: DEFAULT_MEMORY, description="assembly memory heuristic and growth"
    )
    publish: PublishSettings = PublishSettings()
    publications: dict[int, Publication] = Field(
        default_factory=dict, description="PubMed id -> publication that study files may cite"
    )
    super_studies: dict[str, SuperStudy] = Field(
        default_factory=dict, description="slug -> super study that study files may join"
    )

    @field_validator("super_studies")
    @classmethod
    def _slugs(cls, v: dict[str, SuperStudy]) -> dict[str, SuperStudy]:
        for slug in v:
            if not SLUG.match(slug):
                raise NestedError((slug,), "a slug is lowercase words joined by '-'")
        return v

    @field_validator("resources", mode="before")
    @classmethod
    def _resources(cls, v: Any) -> Any:
        """Known rules only (a typo would silently keep the default), positive whole numbers."""
        from .pipelines import all_rules

        if not isinstance(v, dict):
            return v  # pydantic says what is wrong
        rules = all_rules()
        for rule, values in v.items():
            if rule not in rules:
                near = closest(str(rule), list(rules))
                hint = f"did you mean {near}?" if near else f"rules: {', '.join(rules)}"
                raise NestedError((str(rule),), f"unknown rule ({hint})")
            if not isinstance(values, dict):
                raise NestedError((rule,), f"must be a mapping of {' and '.join(RESOURCE_KEYS)}")
            for key, value in values.items():
                if key not in RESOURCE_KEYS:
                    near = get_close_matches(str(key), RESOURCE_KEYS, 1)
                    hint = f"did you mean {near[0]}?" if near else ", ".join(RESOURCE_KEYS)
                    raise NestedError((rule, str(key)), f"unknown key ({hint})")
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    unit = "MB" if key == "mem_mb" else "minutes"
                    shown = str(value).lower() if isinstance(value, bool) else repr(value)
                    raise NestedError(
                        (rule, key), f"must be a whole number of {unit} >= 1, not {shown}"
                    )
        return v

    @field_validator("catalogue")
    @classmethod
    def _catalogue(cls, v: str) -> str:
        return check_catalogue_url(v)

    @property
    def store_kind(self) -> StoreKind:
        return store_kind(self.catalogue)

    @property
    def catalogue_db(self) -> Path:
        """The SQLite catalogue Datasette serves to curators: the store itself with SQLite,
        `publish.catalogue_db` (exported by publish) with PostgreSQL."""
        if self.store_kind is StoreKind.SQLITE:
            return sqlite_path(self.catalogue)
        return Path(self.publish.catalogue_db)

    @model_validator(mode="after")
    def _published_files(self) -> GlobalConfig:
        """With PostgreSQL, publish writes the whole catalogue (private rows included) to
        `publish.catalogue_db`: never where public.db goes, and named as Datasette gates it."""
        if self.store_kind is StoreKind.POSTGRESQL:
            path = Path(self.publish.catalogue_db)
            if path.name != "catalogue.db":
                raise NestedError(
                    ("publish", "catalogue_db"),
                    "must be a file named catalogue.db (Datasette serves it by that name,"
                    " to curators only)",
                )
            if path.resolve() == Path(self.publish.public_db).resolve():
                raise NestedError(("publish", "catalogue_db"), "must not be publish.public_db")
        return self


def store_kind(url: str | Path) -> StoreKind:
    """The kind of catalogue a URL (or a bare path: SQLite) names."""
    if str(url).startswith(("postgresql://", "postgres://")):
        return StoreKind.POSTGRESQL
    return StoreKind.SQLITE


def sqlite_path(url: str | Path) -> Path:
    """The file of a SQLite catalogue named by `sqlite:///PATH` or a bare path."""
    return Path(str(url).removeprefix("sqlite:///"))


def check_catalogue_url(url: str) -> str:
    """`url` if it names a catalogue store, else ValueError saying what is accepted."""
    from urllib.parse import parse_qsl, urlsplit

    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return url
    if store_kind(url) is StoreKind.POSTGRESQL:
        parts = urlsplit(url)
        query = {k.lower() for k, _ in parse_qsl(parts.query)}
        if parts.password is not None or query & {"password", "sslpassword"}:
            raise ValueError(
                "no password in the catalogue URL (config files get copied and shown): put it"
                " in ~/.pgpass, PGPASSFILE or PGPASSWORD"
            )
        if not parts.path.strip("/"):
            raise ValueError("name the database: postgresql://[USER@]HOST[:PORT]/DB")
        return url
    raise ValueError("must be sqlite:///PATH or postgresql://[USER@]HOST[:PORT]/DB")


class StudyConfig(Strict):
    """`config/studies/<ACCESSION>.yaml`: one ENA study, the operator's main lever."""

    accession: str = Field(description="ENA study accession (PRJ..., ERP/SRP/DRP...)")
    biome: str = Field(description="biome lineage, e.g. root:Environmental:Aquatic:Marine")
    analyses: list[Analysis] = Field(default_factory=lambda: [Analysis.ASSEMBLY])
    library_strategies: list[str] = Field(
        default_factory=lambda: ["WGS"],
        description="ENA library strategies to process (default: those of the analyses asked"
        " for: WGS for assembly, AMPLICON for amplicon)",
    )
    library_strategy_policy: LibraryStrategyPolicy = LibraryStrategyPolicy.ONLY_IF_CORRECT_IN_ENA
    library_source_policy: LibrarySourcePolicy = (
        LibrarySourcePolicy.OVERRIDE_GENOMIC_IF_METAGENOMIC_SCIENTIFIC_NAME
    )
    include_runs: list[str] | None = Field(None, description="only these runs (default all)")
    exclude_runs: list[str] = Field(default_factory=list)
    sample_limit: Annotated[int, Field(ge=1)] | None = None
    is_private: bool = False
    webin_owner: str | None = Field(
        None, description="Webin account owning the study (required when is_private)"
    )
    publications: list[int] = Field(
        default_factory=list, description="PubMed ids (described in config.yaml publications:)"
    )
    super_studies: list[str] = Field(
        default_factory=list, description="slugs (described in config.yaml super_studies:)"
    )
    assembly_mem_mb: Annotated[int, Field(ge=300)] | None = Field(
        None, description="start memory of this study's assemblies (overrides the heuristic)"
    )
    assembler: Assembler = Field(
        Assembler.MEGAHIT,
        description="megahit, metaspades (paired runs; single-end ones go to MEGAHIT) or auto"
        " (MGnify's default: metaspades for paired runs, megahit for single-end)",
    )
    run_assemblers: dict[str, Assembler] = Field(
        default_factory=dict,
        description="run -> assembler, over the study's `assembler` (as MGnify's curators edit a"
        " samplesheet); single-end runs still go to MEGAHIT",
    )
    host_genomes: list[str] | None = Field(
        None,
        description="decontamination genome names for this study's hosts (overrides the biome's"
        " in config.yaml references.decontamination.hosts; [] = none)",
    )
    coassemblies: dict[str, list[str]] = Field(
        default_factory=dict,
        description="co-assembly name -> its runs (two or more, same layout): each group is"
        " assembled once from all its runs' cleaned reads, besides each run's own assembly;"
        " its assembler is the study's (or run_assemblers' entry for the name)",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_strategies(cls, data):
        # the strategies of the analyses asked for, unless the study names its own
        if isinstance(data, dict) and "library_strategies" not in data:
            analyses = data.get("analyses") or [Analysis.ASSEMBLY]
            if isinstance(analyses, list) and all(a in set(Analysis) for a in analyses):
                wanted = [ANALYSIS_STRATEGIES[Analysis(a)] for a in analyses]
                data = {**data, "library_strategies": list(dict.fromkeys(wanted))}
        return data

    @field_validator("accession")
    @classmethod
    def _accession(cls, v: str) -> str:
        if not STUDY_ACCESSION.match(v):
            raise ValueError(f"{v!r} is not an ENA study accession (PRJEB..., ERP...)")
        return v

    @field_validator("biome")
    @classmethod
    def _biome(cls, v: str) -> str:
        if not LINEAGE.match(v):
            raise ValueError(f"{v!r} is not a lineage like root:Environmental:Aquatic:Marine")
        return v

    @field_validator("webin_owner")
    @classmethod
    def _webin(cls, v: str | None) -> str | None:
        if v is not None and not WEBIN_ACCOUNT.match(v):
            raise ValueError(f"{v!r} is not a Webin account (Webin-12345)")
        return None if v is None else "Webin-" + v.split("-", 1)[1]

    @model_validator(mode="after")
    def _private_owner(self) -> StudyConfig:
        if self.is_private and not self.webin_owner:
            raise NestedError(("webin_owner",), "required when is_private is true")
        return self

    @field_validator("coassemblies")
    @classmethod
    def _coassemblies(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, runs in v.items():
            if not COASSEMBLY_NAME.match(name) or RUN_ACCESSION.match(name):
                raise NestedError(
                    (name,),
                    f"{name!r} is not a co-assembly name (a letter, then letters, digits, _ or -;"
                    " not a run accession)",
                )
            for acc in runs:
                if not RUN_ACCESSION.match(acc):
                    raise NestedError((name,), f"{acc!r} is not an ENA run accession")
            if len(set(runs)) < 2 or len(set(runs)) != len(runs):
                raise NestedError((name,), "needs two or more runs, each named once")
        return v

    @model_validator(mode="after")
    def _coassembler_keys(self) -> StudyConfig:
        # run_assemblers may name a co-assembly as well as a run
        for key in self.run_assemblers:
            if not RUN_ACCESSION.match(key) and key not in self.coassemblies:
                raise NestedError(
                    ("run_assemblers", key), f"{key!r} is neither a run accession nor a co-assembly"
                )
        return self

    @field_validator("include_runs", "exclude_runs")
    @classmethod
    def _runs(cls, v: list[str] | None) -> list[str] | None:
        for acc in v or []:
            if not RUN_ACCESSION.match(acc):
                raise ValueError(f"{acc!r} is not an ENA run accession (ERR/SRR/DRR...)")
        return v


def _first_error(path: Path | str, exc: ValidationError, model: type[BaseModel]) -> ConfigError:
    # A typo explains the "field required" that often comes with it, so it is reported first.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = tuple(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if isinstance(nested := err.get("ctx", {}).get("error"), NestedError):
        loc, msg = loc + nested.loc, str(nested)
    field = ".".join(str(p) for p in loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        msg = "unknown field (typo?)"
        if len(err["loc"]) == 1 and (near := get_close_matches(field, model.model_fields, 1)):
            msg = f"unknown field (did you mean {near[0]}?)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return ConfigError(f"{path}: {field}: {msg}{more}")


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names a key twice (PyYAML would silently keep the last value)."""


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate keys in a mapping (`<<` merges may override)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first.setdefault(key, key_node)
            except TypeError:  # an unhashable key: SafeLoader says so
                continue
            if earlier is not key_node:
                raise DuplicateKeyError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {earlier.start_mark.line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict:
    """A YAML mapping from `path`; every way it can be unreadable is one ConfigError line."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a YAML file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        bad = e.object[e.start]
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{bad:02x} at offset {e.start}; a binary file?)"
        ) from None
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader
    except yaml.reader.ReaderError as e:
        raise ConfigError(
            f"{path}: not YAML text (character #x{e.character:04x} at offset {e.position};"
            " a binary file?)"
        ) from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        where = f" line {line + 1}:" if line is not None else ""
        problem = getattr(e, "problem", None) or "syntax error"
        if isinstance(e, DuplicateKeyError):
            raise ConfigError(f"{path}:{where} {problem}") from None
        raise ConfigError(f"{path}:{where} not valid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    return data


def parse_global(data: dict, source: Path | str = "config") -> GlobalConfig:
    try:
        return GlobalConfig.model_validate(data)
    except ValidationError as e:
        raise _first_error(source, e, GlobalConfig) from None


def load_study(path: Path) -> StudyConfig:
    try:
        study = StudyConfig.model_validate(_read_yaml(path))
    except ValidationError as e:
        raise _first_error(path, e, StudyConfig) from None
    if path.stem != study.accession:
        raise ConfigError(
            f"{path}: accession: {study.accession!r} differs from the file name ({path.name})"
        )
    return study


def study_files(studies_dir: Path) -> list[Path]:
    """The study files of a studies dir: `<ACCESSION>.yaml` or `.yml` (hidden files ignored).

    One accession in both spellings is an error: which one counts would be a guess.
    """
    if not studies_dir.is_dir():
        raise ConfigError(f"{studies_dir}: studies directory not found")
    files = sorted(
        p
        for p in studies_dir.iterdir()
        if p.suffix in STUDY_SUFFIXES and not p.name.startswith(".")
    )
    seen: dict[str, Path] = {}
    for p in files:
        if (other := seen.setdefault(p.stem, p)) is not p:
            raise ConfigError(
                f"{studies_dir}: both {other.name} and {p.name} configure {p.stem}: keep one"
            )
    return files


def study_file(studies_dir: Path, accession: str) -> Path:
    """The file a study's config comes from (`.yaml` or `.yml`), for naming it in errors."""
    found = [p for p in study_files(Path(studies_dir)) if p.stem == accession]
    return found[0] if found else Path(studies_dir) / f"{accession}.yaml"


def load_studies(studies_dir: Path) -> dict[str, StudyConfig]:
    """Every `<ACCESSION>.yaml`/`.yml` in the studies dir, keyed by accession."""
    return {s.accession: s for s in map(load_study, study_files(studies_dir))}


def study_references(cfg: GlobalConfig, study: StudyConfig) -> dict:
    """The publications and super studies `study` belongs to, as config.yaml describes them
    (recorded with the study's results, so a rebuild needs no config): a super study holds a
    study its file names, or that it lists as a flagship."""
    publications = {
        str(pmid): cfg.publications[pmid].model_dump(mode="json")
        for pmid in study.publications
        if pmid in cfg.publications
    }
    supers = {
        slug: {
            **s.model_dump(mode="json", exclude={"flagship_studies"}),
            "is_flagship": study.accession in s.flagship_studies,
        }
        for slug, s in sorted(cfg.super_studies.items())
        if slug in study.super_studies or study.accession in s.flagship_studies
    }
    return {"publications": publications, "super_studies": supers}


def check_references(cfg: GlobalConfig, studies: dict[str, StudyConfig]) -> None:
    """Every publication and super study a study file names is described in config.yaml."""
    for acc, study in studies.items():
        path = study_file(Path(cfg.studies_dir), acc)
        for pmid in study.publications:
            if pmid not in cfg.publications:
                raise ConfigError(
                    f"{path}: publications: {pmid} is not described in config.yaml publications:"
                )
        known = cfg.references.decontamination.genomes
        for name in study.host_genomes or []:
            if name not in known:
                near = closest(name, list(known))
                hint = f" (did you mean {near}?)" if near else ""
                raise ConfigError(
                    f"{path}: host_genomes: {name!r} is not in config.yaml"
                    f" references.decontamination.genomes{hint}"
                )
        for slug in study.super_studies:
            if slug not in cfg.super_studies:
                near = closest(slug, list(cfg.super_studies))
                hint = f" (did you mean {near}?)" if near else ""
                raise ConfigError(
                    f"{path}: super_studies: {slug!r} is not described in config.yaml"
                    f" super_studies:{hint}"
                )


def load_global(path: Path, overrides: dict | None = None) -> GlobalConfig:
    data = _read_yaml(path)
    if overrides:
        data = deep_merge(data, overrides)
    return parse_global(data, path)


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = (
            deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def json_schemas() -> dict[str, dict]:
    """The JSON schemas written to workflow/schemas/ (generated, never edited by hand)."""
    return {
        "config.schema.json": GlobalConfig.model_json_schema(),
        "study.schema.json": StudyConfig.model_json_schema(),
    }
