//! The sections of the man pages that clap does not write: EXAMPLES, EXIT STATUS,
//! FILES and SEE ALSO, per page. `write_manpages` inserts them before VERSION.
//!
//! Every example command line is parsed by the real CLI in a unit test, so an example
//! cannot name a flag that does not exist.

/// One example: what it does, then the command line(s).
pub struct Example {
    pub what: &'static str,
    pub commands: &'static [&'static str],
}

/// The extra sections of one page.
pub struct Extra {
    /// The page name without section: `ocpvault-etcd-restore`.
    pub page: &'static str,
    pub examples: &'static [Example],
    /// What exit status 1 means for this command; None when it never exits 1.
    pub findings: Option<&'static str>,
    /// Config keys this command takes defaults from (FILES names them).
    pub config_keys: &'static str,
    /// Pages to see also, as `name(section)`.
    pub see_also: &'static [&'static str],
}

const ARCHIVE_PAGES: &[&str] = &["ocpvault(1)", "ocpvault-archive(5)", "ocpvault-config(5)"];

/// The extras of every page, by page name.
pub const EXTRAS: &[Extra] = &[
    Extra {
        page: "ocpvault",
        examples: &[
            Example {
                what: "Before an upgrade, snapshot this master (host files, the rpm list, a live etcd snapshot and every project), encrypted to the operators' age keys, and ship it off the host:",
                commands: &[
                    "ocpvault snapshot -o /var/backup/ocpvault -R /etc/ocpvault/recipients.txt --ship s3://ocp-backups/prod",
                ],
            },
            Example {
                what: "Look inside an archive (ARCHIVE stands for a file such as /var/backup/ocpvault/master-0.example.com-20261101T100000Z.ocpvault) and check it:",
                commands: &[
                    "ocpvault info ARCHIVE",
                    "ocpvault ls -l ARCHIVE /etc/origin/master",
                    "ocpvault verify ARCHIVE",
                ],
            },
            Example {
                what: "After the upgrade: what changed, then put one file back:",
                commands: &[
                    "ocpvault diff ARCHIVE /etc/origin",
                    "ocpvault restore ARCHIVE /etc/origin/master/master-config.yaml",
                ],
            },
        ],
        findings: Some(
            "the command completed, but with findings or warnings: a source failed or was partial (snapshot), problems (verify), differences (diff, packages diff), warnings (restore, etcd restore, project restore)",
        ),
        config_keys: "every section",
        see_also: &[
            "ocpvault-snapshot(1)",
            "ocpvault-info(1)",
            "ocpvault-ls(1)",
            "ocpvault-cat(1)",
            "ocpvault-verify(1)",
            "ocpvault-diff(1)",
            "ocpvault-restore(1)",
            "ocpvault-ship(1)",
            "ocpvault-list(1)",
            "ocpvault-fetch(1)",
            "ocpvault-prune(1)",
            "ocpvault-run(1)",
            "ocpvault-packages(1)",
            "ocpvault-etcd(1)",
            "ocpvault-project(1)",
            "ocpvault-archive(5)",
            "ocpvault-config(5)",
            "age(1)",
            "etcdctl(1)",
            "oc(1)",
        ],
    },
    Extra {
        page: "ocpvault-snapshot",
        examples: &[
            Example {
                what: "Snapshot this host with the defaults into the current directory (host files, the rpm list; etcd when this host runs it; every project on a master):",
                commands: &["ocpvault snapshot"],
            },
            Example {
                what: "Encrypt to an age key and ship to S3-compatible storage:",
                commands: &[
                    "ocpvault snapshot -o /var/backup/ocpvault -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p --ship s3://ocp-backups/prod",
                ],
            },
            Example {
                what: "A tree from another host (a mounted disk): owner names come from its own etc/passwd and etc/group; its etcd and API server do not answer here:",
                commands: &[
                    "ocpvault snapshot --root /mnt/master-0 -o /var/backup/ocpvault --etcd skip --projects skip",
                ],
            },
            Example {
                what: "A stopped etcd member's data directory instead of a live snapshot, and extra paths:",
                commands: &[
                    "ocpvault snapshot --etcd-data-dir /var/lib/etcd --include /etc/httpd --exclude '/etc/sysconfig/network-scripts/**'",
                ],
            },
        ],
        findings: Some(
            "the archive was written, but a source failed or was partial, or no host files were found; the summary names them",
        ),
        config_keys: "[snapshot], [s3], [etcd], [oc]",
        see_also: &[
            "ocpvault-verify(1)",
            "ocpvault-ship(1)",
            "ocpvault-info(1)",
            "ocpvault-archive(5)",
            "ocpvault-config(5)",
            "age(1)",
        ],
    },
    Extra {
        page: "ocpvault-restore",
        examples: &[
            Example {
                what: "Preview a whole-host restore, then run it (differing files are kept as NAME.ocpvault-old):",
                commands: &[
                    "ocpvault restore --dry-run ARCHIVE",
                    "ocpvault restore ARCHIVE",
                ],
            },
            Example {
                what: "Put back one file and one subtree, with owner, mode and SELinux label:",
                commands: &[
                    "ocpvault restore ARCHIVE /etc/origin/master/master-config.yaml /etc/etcd",
                ],
            },
            Example {
                what: "Unpack into a directory instead, from an encrypted archive:",
                commands: &[
                    "ocpvault restore -i ~/.config/age/key.txt ARCHIVE --target /tmp/restored",
                ],
            },
        ],
        findings: Some(
            "the files were restored, with warnings (such as owners that could not be set without root)",
        ),
        config_keys: "none (only --config itself)",
        see_also: &[
            "ocpvault-diff(1)",
            "ocpvault-ls(1)",
            "ocpvault-etcd-restore(1)",
            "ocpvault-project-restore(1)",
            "ocpvault(1)",
        ],
    },
    Extra {
        page: "ocpvault-verify",
        examples: &[
            Example {
                what: "Check every object's SHA-256 and the manifest before trusting an archive:",
                commands: &["ocpvault verify ARCHIVE"],
            },
            Example {
                what: "An encrypted archive, from a script:",
                commands: &["ocpvault verify -i /root/ocpvault.key ARCHIVE --json"],
            },
        ],
        findings: Some("problems were found: the archive is damaged or tampered; each is listed"),
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-fetch(1)", "ocpvault-archive(5)", "ocpvault(1)"],
    },
    Extra {
        page: "ocpvault-ship",
        examples: &[Example {
            what: "Copy the archives of /var/backup/ocpvault to a mounted backup volume and to S3:",
            commands: &[
                "ocpvault ship /var/backup/ocpvault/master-0.example.com-20261101T100000Z.ocpvault /mnt/backup",
                "ocpvault ship /var/backup/ocpvault/master-0.example.com-20261101T100000Z.ocpvault s3://ocp-backups/prod",
            ],
        }],
        findings: None,
        config_keys: "[s3]",
        see_also: &[
            "ocpvault-list(1)",
            "ocpvault-fetch(1)",
            "ocpvault-prune(1)",
            "ocpvault(1)",
        ],
    },
    Extra {
        page: "ocpvault-fetch",
        examples: &[Example {
            what: "Download an archive into /var/tmp, verified against its .sha256 sidecar:",
            commands: &[
                "ocpvault fetch s3://ocp-backups/prod/master-0.example.com-20261101T100000Z.ocpvault -o /var/tmp",
            ],
        }],
        findings: None,
        config_keys: "[s3]",
        see_also: &[
            "ocpvault-list(1)",
            "ocpvault-ship(1)",
            "ocpvault-verify(1)",
            "ocpvault(1)",
        ],
    },
    Extra {
        page: "ocpvault-list",
        examples: &[Example {
            what: "The archives at a destination, per host:",
            commands: &[
                "ocpvault list s3://ocp-backups/prod",
                "ocpvault list /mnt/backup --json",
            ],
        }],
        findings: None,
        config_keys: "[s3]",
        see_also: &["ocpvault-fetch(1)", "ocpvault-prune(1)", "ocpvault(1)"],
    },
    Extra {
        page: "ocpvault-prune",
        examples: &[Example {
            what: "See what a week of dailies and two months of weeklies would delete, then delete it:",
            commands: &[
                "ocpvault prune s3://ocp-backups/prod --keep-daily 7 --keep-weekly 8 --dry-run",
                "ocpvault prune s3://ocp-backups/prod --keep-daily 7 --keep-weekly 8",
            ],
        }],
        findings: None,
        config_keys: "[retention], [s3]",
        see_also: &["ocpvault-list(1)", "ocpvault-ship(1)", "ocpvault-config(5)"],
    },
    Extra {
        page: "ocpvault-run",
        examples: &[Example {
            what: "After every host of a cluster backup shipped its snapshot taken with --run-id nightly-20261122, record the run's hosts, then see it listed as complete:",
            commands: &[
                "ocpvault run seal s3://ocp-backups/prod --run-id nightly-20261122 --host master-0.example.com master-1.example.com node-0.example.com",
                "ocpvault list s3://ocp-backups/prod",
            ],
        }],
        findings: Some(
            "run seal: a recorded host has no archive of the run at the destination (a warning names it)",
        ),
        config_keys: "[s3]",
        see_also: &[
            "ocpvault-run-seal(1)",
            "ocpvault-list(1)",
            "ocpvault-prune(1)",
            "ocpvault-snapshot(1)",
        ],
    },
    Extra {
        page: "ocpvault-run-seal",
        examples: &[Example {
            what: "Seal a run of three hosts in a directory store (writes /mnt/nfs/ocp/runs/nightly-20261122.json):",
            commands: &[
                "ocpvault run seal /mnt/nfs/ocp --run-id nightly-20261122 --host master-0.example.com --host master-1.example.com --host node-0.example.com",
            ],
        }],
        findings: Some(
            "a recorded host has no archive of the run at the destination yet; the record is written all the same and `list` calls the run incomplete",
        ),
        config_keys: "[s3]",
        see_also: &[
            "ocpvault-list(1)",
            "ocpvault-prune(1)",
            "ocpvault-snapshot(1)",
        ],
    },
    Extra {
        page: "ocpvault-run-report",
        examples: &[Example {
            what: "The gate of ansible/snapshot.yml, run by hand on the controller: check run nightly-20261122 of two hosts against their snapshot summaries, write the cluster report, and seal the run when every check holds:",
            commands: &[
                "ocpvault run report s3://ocp-backups/prod --run-id nightly-20261122 --host master-0.example.com=masters,etcd,nodes --host node-0.example.com=nodes --first-master master-0.example.com --summaries ./summaries --report-dir ./reports",
            ],
        }],
        findings: Some(
            "the gate failed: a host shipped no verified archive of the run, the run holds no or more than one etcd snapshot, or the first master's archive lacks a required path (one line per failure names the host)",
        ),
        config_keys: "[s3]",
        see_also: &[
            "ocpvault-run-seal(1)",
            "ocpvault-list(1)",
            "ocpvault-snapshot(1)",
        ],
    },
    Extra {
        page: "ocpvault-diff",
        examples: &[
            Example {
                what: "What changed under /etc/origin since the snapshot:",
                commands: &["ocpvault diff ARCHIVE /etc/origin"],
            },
            Example {
                what: "Check a restore into a directory:",
                commands: &["ocpvault diff ARCHIVE --root /tmp/restored"],
            },
        ],
        findings: Some("there are differences; each is listed"),
        config_keys: "none (only --config itself)",
        see_also: &[
            "ocpvault-restore(1)",
            "ocpvault-packages-diff(1)",
            "ocpvault(1)",
        ],
    },
    Extra {
        page: "ocpvault-info",
        examples: &[Example {
            what: "Host, time, sizes and what each source captured:",
            commands: &["ocpvault info ARCHIVE", "ocpvault info ARCHIVE --json"],
        }],
        findings: None,
        config_keys: "none (only --config itself)",
        see_also: &[
            "ocpvault-ls(1)",
            "ocpvault-verify(1)",
            "ocpvault-archive(5)",
        ],
    },
    Extra {
        page: "ocpvault-ls",
        examples: &[Example {
            what: "Owners, modes, sizes, times and SELinux labels under /etc/origin/master:",
            commands: &["ocpvault ls -l ARCHIVE /etc/origin/master"],
        }],
        findings: None,
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-cat(1)", "ocpvault-info(1)", "ocpvault-restore(1)"],
    },
    Extra {
        page: "ocpvault-cat",
        examples: &[Example {
            what: "Compare the archived master config with the current one:",
            commands: &[
                "ocpvault cat ARCHIVE /etc/origin/master/master-config.yaml > /tmp/master-config.yaml",
            ],
        }],
        findings: None,
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-ls(1)", "ocpvault-diff(1)", "ocpvault-restore(1)"],
    },
    Extra {
        page: "ocpvault-packages",
        examples: &[
            Example {
                what: "The archived rpm list, and how this host drifted from it:",
                commands: &[
                    "ocpvault packages list ARCHIVE",
                    "ocpvault packages diff ARCHIVE",
                ],
            },
            Example {
                what: "The yum commands that put the archived packages back, downgrades included:",
                commands: &["ocpvault packages diff ARCHIVE --format yum --restore-versions"],
            },
        ],
        findings: Some("packages diff found drift"),
        config_keys: "none (only --config itself)",
        see_also: &[
            "ocpvault-packages-list(1)",
            "ocpvault-packages-diff(1)",
            "rpm(8)",
            "yum(8)",
        ],
    },
    Extra {
        page: "ocpvault-packages-list",
        examples: &[Example {
            what: "Every archived package, as JSON:",
            commands: &["ocpvault packages list ARCHIVE --json"],
        }],
        findings: None,
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-packages-diff(1)", "rpm(8)"],
    },
    Extra {
        page: "ocpvault-packages-diff",
        examples: &[
            Example {
                what: "What the upgrade changed, against this host's rpm database:",
                commands: &["ocpvault packages diff ARCHIVE"],
            },
            Example {
                what: "Two archives, or a saved rpm -qa listing:",
                commands: &[
                    "ocpvault packages diff ARCHIVE --against OTHER-ARCHIVE",
                    "ocpvault packages diff ARCHIVE --against /root/rpm-qa.txt --format yum",
                ],
            },
        ],
        findings: Some("the packages differ; the table or the yum commands say how"),
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-packages-list(1)", "rpm(8)", "yum(8)"],
    },
    Extra {
        page: "ocpvault-etcd",
        examples: &[
            Example {
                what: "The archived etcd snapshot's revision, members and checks:",
                commands: &["ocpvault etcd status ARCHIVE"],
            },
            Example {
                what: "Restore it on a static-pod master: print the steps, then run them:",
                commands: &[
                    "ocpvault etcd restore ARCHIVE --data-dir /var/lib/etcd --static-pod --print",
                    "ocpvault etcd restore ARCHIVE --data-dir /var/lib/etcd --static-pod",
                ],
            },
        ],
        findings: Some(
            "etcd status found a problem with the snapshot, or etcd restore finished with warnings",
        ),
        config_keys: "none (only --config itself)",
        see_also: &[
            "ocpvault-etcd-status(1)",
            "ocpvault-etcd-restore(1)",
            "etcdctl(1)",
        ],
    },
    Extra {
        page: "ocpvault-etcd-status",
        examples: &[Example {
            what: "Check the archived snapshot (its integrity trailer, revision and members):",
            commands: &["ocpvault etcd status ARCHIVE --json"],
        }],
        findings: Some("the snapshot is missing, failed its checks, or its capture failed"),
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-etcd-restore(1)", "etcdctl(1)"],
    },
    Extra {
        page: "ocpvault-etcd-ls",
        examples: &[
            Example {
                what: "Every secret of one project in last night's snapshot, without etcd or an API server:",
                commands: &["ocpvault etcd ls ARCHIVE secrets -n myproject"],
            },
            Example {
                what: "Keys under a prefix, as they were at an older revision:",
                commands: &[
                    "ocpvault etcd ls ARCHIVE /openshift.io/routes/ --revision 41000 --json",
                ],
            },
        ],
        findings: Some(
            "a damaged db was read with --salvage and some pages or records were skipped",
        ),
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-etcd-get(1)", "ocpvault-etcd-audit(1)"],
    },
    Extra {
        page: "ocpvault-etcd-get",
        examples: &[
            Example {
                what: "One deleted config map back as JSON (re-create it with oc create -f):",
                commands: &[
                    "ocpvault etcd get ARCHIVE configmaps/app-config -n myproject > app-config.json",
                ],
            },
            Example {
                what: "A deployment config (stored as protobuf) as oc get -o yaml prints it:",
                commands: &["ocpvault etcd get ARCHIVE deploymentconfigs/web -n myproject -o yaml"],
            },
            Example {
                what: "A secret encrypted at rest, decrypted with the archived encryption config:",
                commands: &["ocpvault etcd get ARCHIVE secrets/db-password -n myproject -o raw"],
            },
        ],
        findings: Some(
            "part of a protobuf value is shown by field number (an unknown type or field; see the notes), or a damaged db was read with --salvage",
        ),
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-etcd-ls(1)", "ocpvault-etcd-audit(1)"],
    },
    Extra {
        page: "ocpvault-etcd-dump",
        examples: &[
            Example {
                what: "Every object of a deleted project, from last night's snapshot, in the layout of the oc exports (secrets decrypted; the directory is 0700):",
                commands: &[
                    "ocpvault etcd dump ARCHIVE --project myproject --output /root/myproject-etcd",
                ],
            },
            Example {
                what: "The project as it was at an older revision, with the summary as JSON:",
                commands: &[
                    "ocpvault etcd dump ARCHIVE -n myproject -o /root/myproject-41000 --revision 41000 --json",
                ],
            },
        ],
        findings: Some(
            "values were not decrypted or decoded, keys were skipped, or a damaged db was read with --salvage; the rest was written",
        ),
        config_keys: "none (only --config itself)",
        see_also: &[
            "ocpvault-project-restore(1)",
            "ocpvault-etcd-ls(1)",
            "ocpvault-etcd-get(1)",
        ],
    },
    Extra {
        page: "ocpvault-etcd-audit",
        examples: &[Example {
            what: "Counts per type, values still stored as JSON, secrets not encrypted at rest:",
            commands: &["ocpvault etcd audit ARCHIVE --json"],
        }],
        findings: Some(
            "objects are still stored as JSON, secrets are not encrypted at rest, or a damaged db was read with --salvage",
        ),
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-etcd-ls(1)", "ocpvault-etcd-get(1)"],
    },
    Extra {
        page: "ocpvault-etcd-restore",
        examples: &[
            Example {
                what: "A new data directory for a one-member cluster, with the names from the archived etcd.conf (an existing directory is moved aside):",
                commands: &["ocpvault etcd restore ARCHIVE --data-dir /var/lib/etcd"],
            },
            Example {
                what: "The first member of a new three-member cluster:",
                commands: &[
                    "ocpvault etcd restore ARCHIVE --data-dir /var/lib/etcd --initial-cluster master-0.example.com=https://192.168.55.8:2380 --print",
                ],
            },
        ],
        findings: Some("the data was restored, with warnings (such as an owner or label not set)"),
        config_keys: "none (only --config itself)",
        see_also: &[
            "ocpvault-etcd-status(1)",
            "etcdctl(1)",
            "ocpvault-restore(1)",
        ],
    },
    Extra {
        page: "ocpvault-project",
        examples: &[Example {
            what: "The projects an archive holds, then re-create one:",
            commands: &[
                "ocpvault project list ARCHIVE",
                "ocpvault project restore ARCHIVE myproject --output /tmp/myproject",
                "oc create -f /tmp/myproject",
            ],
        }],
        findings: Some(
            "project restore left objects out with a warning, or an object failed with --apply",
        ),
        config_keys: "[oc]",
        see_also: &[
            "ocpvault-project-list(1)",
            "ocpvault-project-restore(1)",
            "oc(1)",
        ],
    },
    Extra {
        page: "ocpvault-project-list",
        examples: &[Example {
            what: "Objects per type and project, and the types the API server refused:",
            commands: &["ocpvault project list ARCHIVE --json"],
        }],
        findings: None,
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault-project-restore(1)", "oc(1)"],
    },
    Extra {
        page: "ocpvault-project-restore",
        examples: &[
            Example {
                what: "Numbered YAML files in creation order, to read and then create:",
                commands: &[
                    "ocpvault project restore ARCHIVE myproject --output /tmp/myproject",
                    "oc create -f /tmp/myproject",
                ],
            },
            Example {
                what: "Create the objects now, as the cluster admin:",
                commands: &[
                    "ocpvault project restore ARCHIVE myproject --apply --kubeconfig /etc/origin/master/admin.kubeconfig",
                ],
            },
            Example {
                what: "A project the archive has no oc export of, from its etcd snapshot:",
                commands: &[
                    "ocpvault project restore --from-etcd ARCHIVE --project myproject --output /tmp/myproject",
                ],
            },
        ],
        findings: Some(
            "objects were left out with a warning, with --apply an object failed, or with --from-etcd values were not decoded or keys skipped",
        ),
        config_keys: "[oc]",
        see_also: &["ocpvault-project-list(1)", "ocpvault-etcd-dump(1)", "oc(1)"],
    },
    Extra {
        page: "ocpvault-completions",
        examples: &[Example {
            what: "Install the bash completion:",
            commands: &["ocpvault completions bash > /etc/bash_completion.d/ocpvault"],
        }],
        findings: None,
        config_keys: "none (only --config itself)",
        see_also: &["ocpvault(1)"],
    },
];

/// The roff of the extra sections of `page` (generic ones for a page without an entry).
pub fn render(page: &str) -> String {
    let fallback = Extra {
        page: "",
        examples: &[],
        findings: None,
        config_keys: "none (only --config itself)",
        see_also: ARCHIVE_PAGES,
    };
    let extra = EXTRAS.iter().find(|e| e.page == page).unwrap_or(&fallback);
    let mut r = String::new();
    if !extra.examples.is_empty() {
        r.push_str(".SH EXAMPLES\n");
        for ex in extra.examples {
            r.push_str(".PP\n");
            r.push_str(&text(ex.what));
            r.push_str(".PP\n.RS 4\n.nf\n");
            for c in ex.commands {
                r.push_str(&text(c));
            }
            r.push_str(".fi\n.RE\n");
        }
    }
    r.push_str(".SH \"EXIT STATUS\"\n");
    let mut codes = vec![("0", "success")];
    if let Some(f) = extra.findings {
        codes.push(("1", f));
    }
    codes.push((
        "2",
        "an error: bad arguments or configuration, an unreadable or damaged archive, a failed step; one line on standard error says what and why",
    ));
    for (code, meaning) in codes {
        r.push_str(".TP\n");
        r.push_str(&format!(".B {code}\n"));
        r.push_str(&text(meaning));
    }
    r.push_str(".SH FILES\n.TP\n.I /etc/ocpvault/config.toml\n");
    r.push_str(&text(&format!(
        "Site defaults for flags (or /etc/ocpvault/config.json; --config FILE or OCPVAULT_CONFIG names another file); a flag given on the command line wins. Sections used by this command: {}. Every key: ocpvault-config(5).",
        extra.config_keys
    )));
    r.push_str(".SH \"SEE ALSO\"\n");
    let refs: Vec<String> = extra
        .see_also
        .iter()
        .map(|s| match s.split_once('(') {
            Some((name, sec)) => format!("\\fB{}\\fR({sec}", escape(name)),
            None => escape(s),
        })
        .collect();
    r.push_str(&refs.join(",\n"));
    r.push('\n');
    r
}

/// One text line, escaped for roff.
fn text(s: &str) -> String {
    let e = escape(s);
    if e.starts_with('.') || e.starts_with('\'') {
        format!("\\&{e}\n")
    } else {
        format!("{e}\n")
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    #[test]
    fn every_example_parses() {
        for extra in EXTRAS {
            for ex in extra.examples {
                for line in ex.commands {
                    let Some(args) = line.strip_prefix("ocpvault ") else {
                        continue;
                    };
                    let args = args.split(" > ").next().unwrap();
                    let argv = std::iter::once("ocpvault")
                        .chain(args.split_whitespace())
                        .map(|a| a.trim_matches('\'').replace('~', "/root"));
                    if let Err(e) = Cli::try_parse_from(argv) {
                        panic!("{}: example {line:?} does not parse: {e}", extra.page);
                    }
                }
            }
        }
    }

    #[test]
    fn every_page_has_an_entry_and_every_entry_a_page() {
        fn names(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
            let name = format!("{prefix}{}", cmd.get_name());
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                if sub.get_name() != "help" {
                    names(sub, &format!("{name}-"), out);
                }
            }
            out.push(name);
        }
        let mut pages = Vec::new();
        names(&Cli::command(), "", &mut pages);
        for p in &pages {
            assert!(EXTRAS.iter().any(|e| e.page == p), "no man extras for {p}");
        }
        for e in EXTRAS {
            assert!(pages.iter().any(|p| p == e.page), "{} is no page", e.page);
        }
    }
}
