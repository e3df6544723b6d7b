//! The page's stylesheet and script: static text compiled into the binary.

/// Mobile-first, readable at 390 px and at 1280 px.
pub const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f4f6f9}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:baseline;justify-content:space-between;padding:.75rem 1rem;background:#1d2a44;color:#fff}
header.top a.brand{color:#fff;font-weight:700;text-decoration:none;font-size:1.1rem}
header.top .who{font-size:.9rem;opacity:.9}
header.top code{background:rgba(255,255,255,.15);padding:0 .3rem;border-radius:3px}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
h2{font-size:1.15rem;margin:0}
h3{font-size:1rem;margin:1rem 0 .4rem}
section.app{background:#fff;border:1px solid #d9dee7;border-radius:8px;padding:1rem;margin:0 0 1rem}
.app-head{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between}
.badge{display:inline-block;font-size:.8rem;padding:.1rem .5rem;border-radius:999px;background:#e6e9ef}
.badge.ok{background:#d8f3e3;color:#0d5c2f}.badge.warn{background:#fff1cc;color:#6b4a00}.badge.off{background:#eceff3;color:#4a5261}.badge.bad{background:#fde0e0;color:#8a1414}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.75rem 0 0}
.actions form{margin:0}
button,.button{font:inherit;font-size:.95rem;padding:.45rem .9rem;border-radius:6px;border:1px solid #2f5bd3;background:#2f5bd3;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:#2f5bd3}
button.danger{background:#b42318;border-color:#b42318}
table{width:100%;border-collapse:collapse;font-size:.92rem}
th,td{text-align:left;padding:.4rem .35rem;border-bottom:1px solid #e6e9ef;vertical-align:top}
.table-wrap{overflow-x:auto}
.entity-form{display:flex;flex-wrap:wrap;gap:.35rem 1rem;align-items:center}
.entity-form label{white-space:nowrap}
.warning{background:#fff7e0;border-left:4px solid #e0a800;padding:.5rem .75rem;margin:.5rem 0;font-size:.92rem}
.notice{background:#e8f0fe;border-left:4px solid #2f5bd3;padding:.5rem .75rem}
.error{color:#8a1414}
.muted{color:#5b6475;font-size:.9rem}
.run-status{font-size:.92rem}
form.search{display:flex;gap:.5rem;margin:.5rem 0}
form.search input{flex:1;min-width:0;font:inherit;padding:.4rem;border:1px solid #c5ccd8;border-radius:6px}
code{font-size:.88em;word-break:break-all}
.error{overflow-wrap:anywhere}
@media (max-width:30rem){main{padding:.6rem}section.app{padding:.75rem}th,td{padding:.35rem .2rem}}
@media (max-width:40rem){table.stack thead{display:none}table.stack tr{display:block;border-bottom:1px solid #d9dee7;padding:.5rem 0}table.stack td{display:block;border:0;padding:.15rem 0}}
"#;

/// Live progress without a reload: while a run is running (or just requested), poll the JSON
/// API and update the status line; reload once it has finished. Checkbox changes submit their
/// form. Without JavaScript, everything still works through the forms and links.
pub const JS: &str = r#"
(function () {
  document.addEventListener('change', function (e) {
    var f = e.target.form;
    if (f && f.classList.contains('entity-form')) { f.submit(); }
  });
  function watch(el) {
    var url = el.getAttribute('data-runs-url');
    var after = el.getAttribute('data-after') || '';
    function tick() {
      fetch(url, { credentials: 'same-origin', headers: { 'accept': 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (runs) {
          var run = runs && runs[0];
          if (run && run.id !== after) {
            var total = 0;
            (run.counts || []).forEach(function (c) { total += c.created + c.updated + c.merged + c.archived; });
            el.textContent = 'Sync ' + run.status + ': ' + total + ' record(s) written so far';
            el.setAttribute('data-status', run.status);
            if (run.status !== 'running') { window.location.replace(window.location.pathname); return; }
          }
          setTimeout(tick, 700);
        })
        .catch(function () { setTimeout(tick, 1500); });
    }
    tick();
  }
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-runs-url][data-watch]').forEach(watch);
  });
})();
"#;
