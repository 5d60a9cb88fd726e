# spectrum.gp: the latency percentile spectrum, HdrHistogram style: x is 1/(1-p) on a log
# scale, so the tail (99%, 99.9%, 99.99%) gets as much room as the median.
# Data: one file per model, DATA.MODEL.dat, columns: 1/(1-p) latency.
# Variables besides common.gp's: data, models, titles (their names on the plot), lts.
load 'common.gp'
set logscale x
set logscale y
set format y '%g'
set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000, \
	'99.9999%%' 1000000)
set xrange [1:*]
plot for [i=1:words(models)] sprintf('%s.%s.dat', data, word(models, i)) \
	using 1:2 with lines lt (word(lts, i) + 0) title word(titles, i)
