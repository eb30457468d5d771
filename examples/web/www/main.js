// Loads web_demo.wasm, feeds it the photo (center crop, 128x128, (x - 127.5) / 127.5, NHWC RGB),
// runs the network with the simd128 kernels and with the scalar twins, and writes the top-5,
// the latencies and the agreement of the two paths into #result (data-status="ok" or "error").
const result = document.getElementById('result');

// The test driver (check_page.py) serves this page and waits for this report.
function report() {
  fetch('/report', {
    method: 'POST',
    body: JSON.stringify({ status: result.dataset.status, text: result.textContent }),
  }).catch(() => {});
}

function fail(msg) {
  result.dataset.status = 'error';
  result.textContent = 'error: ' + msg;
  report();
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

let ex;
let labels;

async function main() {
  let instance;
  [{ instance }, labels] = await Promise.all([
    WebAssembly.instantiateStreaming(fetch('web_demo.wasm'), {}),
    fetch('../../classify/imagenet_labels.txt').then((r) => r.text()).then((t) => t.split('\n')),
  ]);
  ex = instance.exports;
  if (ex.simd128() !== 1) return fail('the module was not built with simd128');
  document.getElementById('pick').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const img = document.getElementById('photo');
    img.src = URL.createObjectURL(file);
    result.dataset.status = 'running';
    result.textContent = 'running…';
    classify().catch((err) => fail(String(err)));
  });
  await classify();
}

async function classify() {
  const size = ex.input_size();
  const inPtr = ex.init();
  const img = document.getElementById('photo');
  await img.decode();
  const canvas = document.getElementById('view');
  const ctx = canvas.getContext('2d');
  const side = Math.min(img.naturalWidth, img.naturalHeight);
  ctx.drawImage(img, (img.naturalWidth - side) / 2, (img.naturalHeight - side) / 2, side, side,
    0, 0, size, size);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const input = new Float32Array(ex.memory.buffer, inPtr, ex.input_len());
  for (let i = 0, j = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) input[j++] = (rgba[4 * i + c] - 127.5) / 127.5;
  }

  const scores = () => new Float32Array(ex.memory.buffer, ex.output_ptr(), ex.output_len()).slice();
  const time = (simd) => {
    const t = [];
    let calls = 0;
    for (let k = 0; k < 25; k++) {
      const t0 = performance.now();
      calls = ex.run(simd);
      t.push(performance.now() - t0);
    }
    return { ms: median(t), calls };
  };
  const simd = time(1);
  const ySimd = scores();
  const scalar = time(0);
  const yScalar = scores();
  if (simd.calls <= 0) return fail('the simd128 kernels did not run');

  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < ySimd.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(ySimd[i] - yScalar[i]));
    maxAbs = Math.max(maxAbs, Math.abs(yScalar[i]));
  }
  const top = [...ySimd.keys()].sort((a, b) => ySimd[b] - ySimd[a]).slice(0, 5);
  const topScalar = [...yScalar.keys()].sort((a, b) => yScalar[b] - yScalar[a]).slice(0, 5);
  const lines = top.map((k) => `${(100 * ySimd[k]).toFixed(2).padStart(7)}%  ${String(k).padStart(4)}  ${labels[k] ?? ''}`);
  const rel = maxDiff / maxAbs;
  lines.push('');
  lines.push(`latency simd128 ${simd.ms.toFixed(2)} ms, scalar ${scalar.ms.toFixed(2)} ms (median of 25), ${simd.calls} simd128 kernel calls per forward`);
  lines.push(`simd128 vs scalar: max rel diff ${rel.toExponential(2)}, top-5 ${JSON.stringify(top) === JSON.stringify(topScalar) ? 'same' : 'DIFFERENT'}`);
  lines.push(`top5=${top.join(',')}`);
  result.textContent = lines.join('\n');
  if (rel > 1e-4 || JSON.stringify(top) !== JSON.stringify(topScalar)) return fail(result.textContent);
  result.dataset.status = 'ok';
  report();
}

main().catch((e) => fail(String(e)));
