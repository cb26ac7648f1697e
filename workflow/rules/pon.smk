rule pon:
    """Build the panel of normals from the coverage of the sheet's normal rows
    (only when the config says `pon: build`)."""
    input:
        unpack(get_pon_input),
    output:
        "results/pon/panel.pon",
    log:
        "logs/pon/pon.log",
    benchmark:
        "logs/pon/pon.benchmark.tsv"
    conda:
        "../envs/metcnv.yaml"
    params:
        args=get_pon_args(),
    shell:
        "metcnv pon build --out {output:q} {params.args} --threads {threads}"
        " {input.coverage:q} > {log:q} 2>&1"
