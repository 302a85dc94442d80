# Image for source-segment, in the shape of Airbyte's Python connector images:
# built FROM Airbyte's python-connector-base (the same image metadata.yaml declares), the package installed
# into the base image's Python, run as the base image's non-root `airbyte` user.
#
#   docker build -t airbyte/source-segment:dev .
#   docker run --rm airbyte/source-segment:dev spec
#   docker run --rm -v $PWD/secrets:/secrets airbyte/source-segment:dev check --config /secrets/config.json
#
# Needs BuildKit (Docker's default builder since 23.0; `docker buildx build`) or podman/buildah, for RUN --mount.
# Offline builds: if the build context holds a `wheelhouse/` folder (from `pip wheel -w wheelhouse .`, so it
# holds the connector's own wheel too), pip installs from it with --no-index and never touches the network.
# scripts/image_test.sh does this, FROM a locally made stand-in base (`--build-arg BASE_IMAGE=...`).

ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.1.0@sha256:1d1aa21d34e851df4e8a87b391c27724c06e2597608e7161f4d167be853bd7b6

FROM ${BASE_IMAGE}
ARG BASE_IMAGE
USER root
WORKDIR /airbyte/integration_code
# The build context (kept by .dockerignore to pyproject.toml, README.md, LICENSE, source_segment/ and an optional
# wheelhouse/) is mounted read-only for this one step instead of copied: neither the sources nor the wheelhouse
# end up in a layer, and no second stage has to copy the installed packages over. pip builds from a source tree
# by writing into it, hence the copy in the online branch.
RUN --mount=type=bind,source=.,target=/tmp/context \
    if [ -d /tmp/context/wheelhouse ]; then \
        pip install --no-cache-dir --no-index --find-links /tmp/context/wheelhouse source-segment ; \
    else \
        cp -r /tmp/context /tmp/source && pip install --no-cache-dir /tmp/source && rm -rf /tmp/source ; \
    fi

LABEL io.airbyte.name="airbyte/source-segment" \
      io.airbyte.version="0.2.1" \
      org.opencontainers.image.title="source-segment" \
      org.opencontainers.image.description="Airbyte source for the Segment Public API" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

ENV AIRBYTE_ENTRYPOINT="source-segment"
USER airbyte
ENTRYPOINT ["source-segment"]
