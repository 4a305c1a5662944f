"""Pydantic records of ENA Portal API rows (study, sample, read run) and their FASTQ files."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LibraryLayout(StrEnum):
    SINGLE = "SINGLE"
    PAIRED = "PAIRED"


def split_list(value: str | None) -> list[str]:
    """ENA joins multi-valued fields with ';'."""
    return [v for v in (value or "").split(";") if v]


def _blank_to_none(value):
    return None if value == "" else value


class EnaRecord(BaseModel):
    """ENA returns every value as a string (empty for missing); extra fields are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    _blank = field_validator("*", mode="before")(_blank_to_none)


class EnaStudy(EnaRecord):
    study_accession: str | None = None
    secondary_study_accession: str | None = None
    study_title: str | None = None
    study_description: str | None = None
    center_name: str | None = None
    study_name: str | None = None
    first_public: str | None = None

    @property
    def accession(self) -> str:
        """Primary accession; an empty primary falls back to the first secondary (as ENA does)."""
        acc = self.study_accession or (split_list(self.secondary_study_accession) or [None])[0]
        if not acc:
            raise ValueError("ENA study record has neither study_accession nor a secondary")
        return acc

    @property
    def secondary_accessions(self) -> list[str]:
        return [a for a in split_list(self.secondary_study_accession) if a != self.accession]


class EnaSample(EnaRecord):
    sample_accession: str
    secondary_sample_accession: str | None = None
    sample_title: str | None = None
    sample_alias: str | None = None
    scientific_name: str | None = None
    tax_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    collection_date: str | None = None
    country: str | None = None
    location: str | None = None
    depth: str | None = None
    temperature: str | None = None
    environment_biome: str | None = None
    environment_feature: str | None = None
    environment_material: str | None = None
    host_tax_id: str | None = None
    host_scientific_name: str | None = None


class EnaRun(EnaRecord):
    run_accession: str
    sample_accession: str
    study_accession: str | None = None
    secondary_study_accession: str | None = None
    secondary_sample_accession: str | None = None
    sample_title: str | None = None
    library_strategy: str | None = None
    library_source: str | None = None
    library_layout: str | None = None
    instrument_platform: str | None = None
    instrument_model: str | None = None
    scientific_name: str | None = None
    read_count: int | None = None
    base_count: int | None = None
    fastq_ftp: str | None = None
    fastq_md5: str | None = None
    fastq_bytes: str | None = None
    host_tax_id: str | None = None
    host_scientific_name: str | None = None

    @property
    def fastq_files(self) -> list[FastqFile]:
        """The run's FASTQ files, paired with their md5 and size (ENA lists them ';'-joined)."""
        urls = split_list(self.fastq_ftp)
        md5s = split_list(self.fastq_md5)
        sizes = split_list(self.fastq_bytes)
        return [
            FastqFile(
                url=u,
                md5=md5s[i] if i < len(md5s) else None,
                bytes=int(sizes[i]) if i < len(sizes) else None,
            )
            for i, u in enumerate(urls)
        ]


class FastqFile(BaseModel):
    url: str = Field(description="host/path without scheme, as ENA's fastq_ftp")
    md5: str | None = None
    bytes: int | None = None

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]
