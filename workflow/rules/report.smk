rule report:
    """One sample's HTML report, CNV VCF, IGV SEG file and MultiQC table."""
    input:
        "results/calls/{sample}/{sample}.metcnv.json",
    output:
        **get_report_pdf_output(),
        html="results/reports/{sample}/{sample}.report.html",
        vcf="results/reports/{sample}/{sample}.cnv.vcf.gz",
        tbi="results/reports/{sample}/{sample}.cnv.vcf.gz.tbi",
        seg="results/reports/{sample}/{sample}.seg",
        multiqc="results/reports/{sample}/{sample}_mqc.tsv",
    log:
        "logs/report/{sample}.log",
    benchmark:
        "logs/report/{sample}.benchmark.tsv"
    conda:
        "../envs/metcnv.yaml"
    params:
        outdir=subpath(output.html, parent=True),
        args=get_report_args(),
    shell:
        "metcnv report {input:q} --out {params.outdir:q} {params.args} > {log:q} 2>&1"
