"""From an API page to the records we emit: item checks, secret redaction and primary-key checks."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, MutableMapping, Optional

from source_segment.redaction import redact_record


class RecordShaping:
    """Mixin for `SegmentStream`: turns `data[data_key]` into records, dropping only what has no key."""

    def parse_data(self, data: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        items = data.get(self.data_key)
        if items is None:
            return
        if self.single_object:
            items = [items]
        elif not isinstance(items, list):
            self.logger.warning(f"Stream `{self.name}`: expected a list under data.{self.data_key}, got {type(items).__name__}; skipped.")
            return
        for item in items:
            record = self.transform(item, stream_slice)
            if record is not None and self.has_primary_key(record):
                yield record

    def transform(self, item: Any, stream_slice: Mapping[str, Any]) -> Optional[MutableMapping[str, Any]]:
        """Turns one API item into the record we emit; None drops it. Records stay nested as the API sends them."""
        if not isinstance(item, dict):
            self.logger.warning(f"Stream `{self.name}`: skipped an item that is not an object ({type(item).__name__}).")
            return None
        return redact_record(item, self.redact_fields, self.config.settings_redaction, self.redact_text_fields)

    def has_primary_key(self, record: Mapping[str, Any]) -> bool:
        for key in self._key_fields:
            if record.get(key) is None:
                self.logger.warning(f"Stream `{self.name}`: skipped a record without its primary key field `{key}`.")
                return False
        return True

    def parent_view(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return {field: record.get(field) for field in self.parent_fields}
