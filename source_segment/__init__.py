from source_segment.source import SourceSegment

__all__ = ["SourceSegment"]
