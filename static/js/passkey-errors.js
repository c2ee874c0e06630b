// allauth's WebAuthn script reports a failed or cancelled passkey ceremony as an "allauth.error" event;
// show it on the page instead of only in the console.
(function () {
  document.addEventListener('allauth.error', function (event) {
    const target = document.getElementById('passkey-error')
    if (!target) return
    event.preventDefault()
    const name = event.detail && event.detail.exception && event.detail.exception.name
    target.textContent = name === 'NotAllowedError'
      ? 'The passkey request was cancelled or timed out. Try again.'
      : 'Your browser could not use a passkey here. Sign in with your email and password.'
    target.hidden = false
  })
})()
