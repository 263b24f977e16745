"""One Snakemake job: run the promoter-cr command named in the rule's params (see promoter_cr.cli).

The command, its arguments and the config sections it needs come from ``params``; the job's log
file and threads from the rule. Runs under the interpreter Snakemake itself runs under (or the
rule's conda environment), so no activated virtual environment or PATH entry is needed.
"""

from promoter_cr.cli import run_workflow_job

run_workflow_job(snakemake)  # noqa: F821 - injected by Snakemake's script directive
