module c10k-lab/refs/go

go 1.19
