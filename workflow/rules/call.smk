rule call:
    """Call one sample's coverage against the panel of normals."""
    input:
        unpack(get_call_input),
    output:
        json="results/calls/{sample}/{sample}.metcnv.json",
        bins="results/calls/{sample}/{sample}.bins.tsv.gz",
        segments="results/calls/{sample}/{sample}.segments.tsv",
        genes="results/calls/{sample}/{sample}.genes.tsv",
    log:
        "logs/call/{sample}.log",
    benchmark:
        "logs/call/{sample}.benchmark.tsv"
    conda:
        "../envs/metcnv.yaml"
    params:
        outdir=subpath(output.json, parent=True),
        args=get_call_args,
    shell:
        "metcnv call {input.coverage:q} --pon {input.pon:q} --out {params.outdir:q}"
        " {params.args} > {log:q} 2>&1"
