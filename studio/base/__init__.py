"""Base: the names and facts every layer shares.

    errors        every user-facing error class (USER_ERRORS) and how any failure reads to people
    text          Text(en, zh): the one way a translated text is written
    settings      documented dataclass fields (`setting`), reading them from JSON/YAML with checks, their help
    files         atomic writes, JSON without NaN
    runfolder     RunFolder (every file of a run folder, by name) and the status/metrics contract
    entity        FolderKind: runs, sweeps and labelling projects as folders (ids, owners, creation, listing, deletion)
    access        people (Person, LOCAL, ANONYMOUS) and what they may see and change (Access, access.json)
    accounts      the accounts of a server with logins: names, scrypt hashes, admins
    policy        what the operator allows: remote code, local model folders, the hub
    limits        what one person may use: the named policies (open, public) and their limits
    secrets       the server's own tokens, held back from whoever may not use them
    plain_yaml    YAML as people write configs: no aliases, anchors, tags or deep nesting
    cache         the studio's cache folder
    devices       what this server has; `auto` device and precision
    process_rank  which rank a process is in a run trained by several
    log_filter    a training log that reads plainly

Imports: nothing of the studio.
"""
